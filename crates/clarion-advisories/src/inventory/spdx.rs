//! SPDX 2.2 and 2.3 JSON documents into packages named by their package URLs.
//!
//! **A package is listed from each of its `externalRefs` of type `purl` (category `PACKAGE-MANAGER`, or
//! 2.2's `PACKAGE_MANAGER`), its `versionInfo` filling in a purl without a version; a package without a
//! purl or a version is counted as skipped. The packages the document describes (`documentDescribes`, or
//! `DESCRIBES` relationships) are the service itself and are not listed.** `direct`: the described package
//! `DEPENDS_ON` it, or it is a `DEPENDENCY_OF` (or `DEV_`, `OPTIONAL_`, `BUILD_`, … `DEPENDENCY_OF`) the
//! described package; unknown when the document has no dependency relationships or describes nothing.

use std::collections::HashSet;

use serde_json::Value;

use super::purl::Purl;
use super::syntax::JsonObject;
use super::{Collector, InventoryError};

/// The `spdxVersion`s this reader knows (SPDX 3 is JSON-LD, another shape altogether).
const SPDX_VERSIONS: [&str; 2] = ["SPDX-2.2", "SPDX-2.3"];

/// The reference categories under which SPDX writes package URLs (2.3 and 2.2 spellings).
const PACKAGE_MANAGER: [&str; 2] = ["PACKAGE-MANAGER", "PACKAGE_MANAGER"];

pub(super) fn read(document: &Value, found: &mut Collector) -> Result<(), InventoryError> {
    let top = JsonObject::root(document)?;
    let version = top.required_str("spdxVersion")?;
    if !SPDX_VERSIONS.contains(&version) {
        return Err(InventoryError::field(
            "spdxVersion",
            format!("{version} is not supported ({} are): export the SBOM as SPDX 2.3 JSON", SPDX_VERSIONS.join(", ")),
        ));
    }
    let document_id = top.str("SPDXID")?.unwrap_or("SPDXRef-DOCUMENT");

    let mut described: HashSet<&str> = top.strings("documentDescribes")?.into_iter().collect();
    let mut depends_on = Vec::new();
    for relationship in top.objects("relationships")? {
        let element = relationship.required_str("spdxElementId")?;
        let kind = relationship.required_str("relationshipType")?;
        let related = relationship.required_str("relatedSpdxElement")?;
        match kind {
            "DESCRIBES" if element == document_id => {
                described.insert(related);
            }
            "DESCRIBED_BY" if related == document_id => {
                described.insert(element);
            }
            "DEPENDS_ON" => depends_on.push((element, related)),
            _ if kind.ends_with("DEPENDENCY_OF") => depends_on.push((related, element)),
            _ => {}
        }
    }
    let direct: Option<HashSet<&str>> = (!described.is_empty() && !depends_on.is_empty()).then(|| {
        depends_on
            .iter()
            .filter(|(dependent, _)| described.contains(dependent))
            .map(|&(_, dependency)| dependency)
            .collect()
    });

    for package in top.objects("packages")? {
        let id = package.str("SPDXID")?;
        if id.is_some_and(|id| described.contains(id)) {
            continue;
        }
        let version_info = package.str("versionInfo")?.filter(|v| *v != "NOASSERTION" && *v != "NONE");
        let mut purls = 0;
        for reference in package.objects("externalRefs")? {
            if reference.str("referenceType")? != Some("purl")
                || reference.str("referenceCategory")?.is_some_and(|c| !PACKAGE_MANAGER.contains(&c))
            {
                continue;
            }
            purls += 1;
            let locator = reference.required_str("referenceLocator")?;
            let purl = Purl::parse(locator)
                .map_err(|message| InventoryError::field(reference.key_path("referenceLocator"), message))?;
            let Some(version) = purl.osv_version(version_info) else {
                found.skip();
                continue;
            };
            let is_direct = direct.as_ref().map(|direct| id.is_some_and(|id| direct.contains(id)));
            found.add(&purl.ecosystem(), purl.osv_name(), version, is_direct)?;
        }
        if purls == 0 {
            found.skip();
        }
    }
    Ok(())
}
