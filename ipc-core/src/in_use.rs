//! Laying a structure out over one in use is refused.
//!
//! `init` over a live ring would reset its indices and clear its claims under the processes
//! using it, and grant a second producer. So before laying anything out, `init` attaches the
//! region as each structure it may hold and refuses it while any role there is held.

use crate::broadcast::Broadcast;
use crate::fan_in::FanIn;
use crate::role::Role;
use crate::spsc::Spsc;
use crate::{LayoutError, Region};

/// [`LayoutError::InUse`] if `region` holds a structure of this crate's layout version with a
/// role held (in this process or another).
pub(crate) fn refuse_live(region: Region<'_>) -> Result<(), LayoutError> {
    match held_role(region) {
        Some(role) => Err(LayoutError::InUse { role }),
        None => Ok(()),
    }
}

fn held_role(region: Region<'_>) -> Option<Role> {
    if let Ok(ring) = Spsc::attach(region) {
        return ring.held_role();
    }
    if let Ok(fan_in) = FanIn::attach(region) {
        return fan_in.held_role();
    }
    Broadcast::attach(region).ok()?.held_role()
}
