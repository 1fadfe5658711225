//! CycloneDX JSON, specification versions 1.3 to 1.6, into packages named by their package URLs.
//!
//! Read by hand, tolerantly: only `bomFormat`, `specVersion`, `metadata.component`, `components` (nested
//! ones too, at most [`MAX_COMPONENT_DEPTH`] deep) and `dependencies` are looked at.
//!
//! **A component is listed from its `purl` (its `version` filling in a purl without one); a component
//! without a purl or without a version is counted as skipped, as no ecosystem or version is known for it.
//! `metadata.component` is the service itself and is not listed.** `direct`: the component's `bom-ref` is
//! in the `dependsOn` of `metadata.component`'s `bom-ref` in `dependencies[]`; unknown when the document
//! has no dependency entry for its subject.

use std::collections::HashSet;

use serde_json::Value;

use super::purl::Purl;
use super::syntax::JsonObject;
use super::{Collector, InventoryError, MAX_COMPONENT_DEPTH};

/// The specification versions this reader knows.
const SPEC_VERSIONS: [&str; 4] = ["1.3", "1.4", "1.5", "1.6"];

pub(super) fn read(document: &Value, found: &mut Collector) -> Result<(), InventoryError> {
    let top = JsonObject::root(document)?;
    let format = top.required_str("bomFormat")?;
    if format != "CycloneDX" {
        return Err(InventoryError::field("bomFormat", format!("expected \"CycloneDX\", not {format:?}")));
    }
    let spec_version = top.required_str("specVersion")?;
    if !SPEC_VERSIONS.contains(&spec_version) {
        return Err(InventoryError::field(
            "specVersion",
            format!(
                "CycloneDX {spec_version} is not supported (versions {} are): export the SBOM as one of them",
                SPEC_VERSIONS.join(", ")
            ),
        ));
    }

    let subject = match top.object("metadata")? {
        Some(metadata) => metadata.object("component")?,
        None => None,
    };
    let subject_ref = match &subject {
        Some(subject) => subject.str("bom-ref")?,
        None => None,
    };
    let direct = direct_refs(&top, subject_ref)?;

    // Depth-first with an explicit stack, so nesting costs no call depth; the bound refuses absurd files.
    let mut pending: Vec<(JsonObject<'_>, usize)> =
        top.objects("components")?.into_iter().rev().map(|component| (component, 1)).collect();
    while let Some((component, depth)) = pending.pop() {
        if depth > MAX_COMPONENT_DEPTH {
            return Err(InventoryError::field(
                component.path,
                format!("components nested more than {MAX_COMPONENT_DEPTH} levels deep"),
            ));
        }
        pending.extend(component.objects("components")?.into_iter().rev().map(|child| (child, depth + 1)));

        let bom_ref = component.str("bom-ref")?;
        if bom_ref.is_some() && bom_ref == subject_ref {
            continue;
        }
        let Some(purl) = component.str("purl")? else {
            found.skip();
            continue;
        };
        let purl = Purl::parse(purl).map_err(|message| InventoryError::field(component.key_path("purl"), message))?;
        let Some(version) = purl.osv_version(component.str("version")?) else {
            found.skip();
            continue;
        };
        let is_direct = direct.as_ref().map(|refs| bom_ref.is_some_and(|r| refs.contains(r)));
        found.add(&purl.ecosystem(), purl.osv_name(), version, is_direct)?;
    }
    Ok(())
}

/// The `bom-ref`s the subject depends on, or `None` when the document does not say (no subject, or no
/// `dependencies` entry for it).
fn direct_refs<'d>(
    top: &JsonObject<'d>,
    subject_ref: Option<&str>,
) -> Result<Option<HashSet<&'d str>>, InventoryError> {
    let Some(subject_ref) = subject_ref else { return Ok(None) };
    for entry in top.objects("dependencies")? {
        if entry.required_str("ref")? == subject_ref {
            return Ok(Some(entry.strings("dependsOn")?.into_iter().collect()));
        }
    }
    Ok(None)
}
