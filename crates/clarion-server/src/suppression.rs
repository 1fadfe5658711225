//! Why an alert is held back at a read: the silences and inhibitions of a memory snapshot, the planned
//! events working on its service, and the time intervals muting its routes. Shared by the listings of the
//! API and the web pages, so both say the same of every alert.
//!
//! Computed from a snapshot's own indexes, without any lock: consistent with the alerts listed.

use std::collections::HashMap;

use clarion_config::Config;
use clarion_core::alerts::{AlertStatus, IndexedStatus, StatusSource};
use clarion_core::inhibit::InhibitionIndex;
use clarion_core::labels::LabelSet;
use clarion_core::route::Route;
use clarion_core::Timestamp;

use crate::memory::Snapshot;
use crate::state::AppState;

/// The time intervals holding back each route of a snapshot's tree at the time of a read, by the route's
/// address in that tree (the tree is behind the snapshot's `Arc`, so no route moves while it is read).
/// An alert of such a route shows them in `mutedBy`.
pub(crate) struct RouteMutes(HashMap<usize, Vec<String>>);

impl RouteMutes {
    pub(crate) fn of(state: &AppState, config: &Config, tree: &Route, now: Timestamp) -> RouteMutes {
        let mut known = HashMap::new();
        let mut mutes = HashMap::new();
        for r in tree.walk() {
            let (mute, active) = (&r.opts.mute_time_intervals, &r.opts.active_time_intervals);
            if mute.is_empty() && active.is_empty() {
                continue;
            }
            let names = crate::calendars::muting_intervals(state, config, mute, active, now, &mut known);
            if !names.is_empty() {
                mutes.insert(std::ptr::from_ref(r) as usize, names);
            }
        }
        RouteMutes(mutes)
    }

    /// Adds to `status` the intervals holding back any of `routes` (an alert's routes).
    pub(crate) fn add_to(&self, status: &mut AlertStatus, routes: &[&Route]) {
        if self.0.is_empty() {
            return;
        }
        for r in routes {
            for name in self.0.get(&(std::ptr::from_ref(*r) as usize)).into_iter().flatten() {
                if !status.muted_by.contains(name) {
                    status.muted_by.push(name.clone());
                }
            }
        }
    }
}

/// The status of every alert of a snapshot, from the silence and inhibition indexes taken with it:
/// consistent with the alerts listed, and computed without any lock.
pub(crate) struct Statuses<'s> {
    inhibition: &'s InhibitionIndex,
    silences: &'s clarion_core::silence::SilenceIndex,
    /// Services planned events are working on now, with those events.
    muted: std::collections::HashMap<String, Vec<String>>,
    now: Timestamp,
}

impl<'s> Statuses<'s> {
    pub(crate) fn of(
        snapshot: &'s Snapshot,
        muted: std::collections::HashMap<String, Vec<String>>,
        now: Timestamp,
    ) -> Statuses<'s> {
        Statuses { inhibition: &snapshot.inhibition, silences: &snapshot.silences, muted, now }
    }

    pub(crate) fn status(&self, labels: &LabelSet) -> AlertStatus {
        let mut status =
            IndexedStatus { silences: self.silences, inhibition: self.inhibition, now: self.now }.status(labels);
        if self.muted.is_empty() {
            return status;
        }
        if let Some(events) = labels.get("service").and_then(|s| self.muted.get(s)) {
            status.muted_by = events.clone();
        }
        status
    }
}
