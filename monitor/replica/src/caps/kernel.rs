//! What the protocol asks of its own core's CPU driver.
//!
//! A monitor implements [`LocalKernel`] with invocations of its Kernel capability (create
//! a capability from a key, identify, delete, revoke, retype, set the remote-relations
//! bits); the model checker implements it with a map per core. The protocol calls it only
//! from inside [`CapNode::request`](super::CapNode::request) and
//! [`CapNode::handle`](super::CapNode::handle), so each call happens at a well-defined
//! point of one event.

use super::{KernelError, ObjectKey, Rights, Slot};
use crate::CoreId;

/// What the CPU driver records on every local copy of an object about other cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relations {
    /// The object's owner core as this core knows it (shown by identify).
    pub owner: CoreId,
    /// Copies or descendants may exist on other cores. While set, the CPU driver refuses a
    /// program's delete of the last local copy, its revoke and its retype with "retry
    /// through monitor" (the monitor sets the kernel's `remote` bits, or clears them all).
    pub remote: bool,
}

/// This core's capability database, as the protocol uses it.
///
/// "Copies" are capabilities to the object itself in this core's slots; "descendants" are
/// objects retyped from it on this core, at any depth.
pub trait LocalKernel {
    /// True if `slot` holds a capability to `obj`.
    fn holds(&self, obj: ObjectKey, slot: Slot) -> bool;

    /// How many capabilities to `obj` this core holds.
    fn copies(&self, obj: ObjectKey) -> usize;

    /// True if objects retyped from `obj` exist on this core.
    fn has_descendants(&self, obj: ObjectKey) -> bool;

    /// Makes a capability to `obj` with `rights` in the empty slot `dest`, owned by `owner`
    /// and marked as having remote relations (it arrived from another core). Refused if the
    /// slot is taken or gone.
    fn install(
        &mut self,
        obj: ObjectKey,
        rights: Rights,
        owner: CoreId,
        dest: Slot,
    ) -> Result<(), KernelError>;

    /// Empties `slot`, which holds a capability to `obj`. Never destroys the object, even
    /// if this was the core's last copy: whether it was the last one *anywhere* is the
    /// protocol's to decide, and it says so with [`LocalKernel::reclaim`].
    fn delete_copy(&mut self, obj: ObjectKey, slot: Slot) -> Result<(), KernelError>;

    /// Deletes every capability to `obj` on this core except the one in `keep` (if it
    /// still holds one). Like [`LocalKernel::delete_copy`], never destroys the object.
    fn delete_copies(&mut self, obj: ObjectKey, keep: Option<Slot>);

    /// Deletes every descendant of `obj` on this core (a local revoke of its descendants).
    fn delete_descendants(&mut self, obj: ObjectKey);

    /// Performs the retype a program asked for with request `token` through `slot`: the
    /// owner granted it. The CPU driver's own checks (sizes, alignment, slots) still apply.
    fn retype(&mut self, obj: ObjectKey, slot: Slot, token: u64) -> Result<(), KernelError>;

    /// Records `relations` on every local copy of `obj`.
    fn set_relations(&mut self, obj: ObjectKey, relations: Relations);

    /// The last copy of `obj` anywhere is gone: destroy the object and release what it held.
    /// Called on one core, exactly once per object. `descendants_may_remain` says whether
    /// objects made from it may still exist somewhere, in which case its memory is still in
    /// use and must not be handed out again.
    fn reclaim(&mut self, obj: ObjectKey, descendants_may_remain: bool);
}
