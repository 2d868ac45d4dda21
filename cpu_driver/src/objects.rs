//! What destroying or unmapping an object involves, by type: the hooks the capability
//! operations call so that they need not know every kind of object.

use crate::caps::{Capability, Slot};
use crate::vspace;
use abi::cap::CapType;

/// Unmaps the frame or table in `slot` if that copy is mapped.
pub fn unmap(slot: Slot) {
    vspace::unmap(slot);
}

/// Releases what the kernel holds for an object whose last capability was deleted.
pub fn destroy(cap: &Capability) {
    match cap.ctype {
        CapType::VNodeL0 => vspace::release_root(cap),
        CapType::Dispatcher => crate::dispatch::destroy(cap),
        CapType::Endpoint => crate::lmp::destroy(cap),
        #[cfg(target_os = "none")]
        CapType::Irq => crate::interrupts::disconnect(cap.aux),
        _ => {}
    }
}

/// A capability to `cap`'s object was made (by retype, copy or mint).
pub fn referenced(cap: &Capability) {
    if cap.ctype == CapType::Endpoint {
        crate::lmp::add_reference(cap);
    }
}

/// A capability to `cap`'s object was deleted; `last_copy` says whether the derivation
/// database holds no other copy. True if the object itself must now be destroyed.
pub fn released(cap: &Capability, last_copy: bool) -> bool {
    match cap.ctype {
        // Badged and unbadged endpoint capabilities are different entries of the database
        // but one object: count them all.
        CapType::Endpoint => crate::lmp::drop_reference(cap),
        _ => last_copy,
    }
}

/// Gives a newly made object its kernel-side state.
pub fn prepare(cap: &mut Capability) -> Result<(), abi::SysError> {
    if cap.ctype == CapType::VNodeL0 {
        vspace::assign_asid(cap)?;
    }
    Ok(())
}
