//! The derivation database: one doubly linked list per core through every slot that holds
//! a capability, ordered so that relations are found by looking at neighbours.
//!
//! The invariant (after seL4's mapping database): the copies of a capability stand next to
//! each other (a *copy group*), and everything derived from an object — its descendants,
//! at any depth — stands right after that object's copy group, before anything unrelated.
//! So a copy is inserted right after its source, and a new child right after its parent's
//! copy group. Then:
//! - the last capability to an object is one with no copy on either side ([`is_final`]);
//! - an object's descendants are the run after its copy group of capabilities it is an
//!   ancestor of ([`first_descendant`]), which is how revoke finds them and how retype
//!   checks that memory is not already in use.

use super::Slot;

/// Links `new` into the list right after `anchor`.
pub fn insert_after(anchor: Slot, new: Slot) {
    let next = anchor.next();
    new.set_links(Some(anchor), next);
    anchor.set_links(anchor.prev(), Some(new));
    if let Some(n) = next {
        n.set_links(Some(new), n.next());
    }
}

/// Makes `new` a list of its own: a capability derived from nothing (made at boot).
pub fn insert_root(new: Slot) {
    new.set_links(None, None);
}

/// Takes `slot` out of the list, joining its neighbours.
pub fn unlink(slot: Slot) {
    let (prev, next) = (slot.prev(), slot.next());
    if let Some(p) = prev {
        p.set_links(p.prev(), next);
    }
    if let Some(n) = next {
        n.set_links(prev, n.next());
    }
    slot.set_links(None, None);
}

/// The first capability of `slot`'s copy group.
pub fn first_copy(slot: Slot) -> Slot {
    let cap = slot.cap();
    let mut first = slot;
    while let Some(p) = first.prev().filter(|p| p.cap().same_object(&cap)) {
        first = p;
    }
    first
}

/// Every capability to `slot`'s object: its copy group, in list order.
pub fn copies(slot: Slot) -> impl Iterator<Item = Slot> {
    let cap = slot.cap();
    let mut next = Some(first_copy(slot));
    core::iter::from_fn(move || {
        let current = next?;
        next = current.next().filter(|n| n.cap().same_object(&cap));
        Some(current)
    })
}

/// The last capability of `slot`'s copy group.
pub fn last_copy(slot: Slot) -> Slot {
    let cap = slot.cap();
    let mut last = slot;
    while let Some(n) = last.next().filter(|n| n.cap().same_object(&cap)) {
        last = n;
    }
    last
}

/// True if no other capability refers to `slot`'s object.
pub fn is_final(slot: Slot) -> bool {
    let cap = slot.cap();
    let copy = |s: Option<Slot>| s.is_some_and(|s| s.cap().same_object(&cap));
    !copy(slot.prev()) && !copy(slot.next())
}

/// Another copy of `slot`'s capability, if there is one.
pub fn other_copy(slot: Slot) -> Option<Slot> {
    let cap = slot.cap();
    [slot.prev(), slot.next()].into_iter().flatten().find(|s| s.cap().same_object(&cap))
}

/// The first of the object's descendants (the slot right after its copy group), if any.
pub fn first_descendant(slot: Slot) -> Option<Slot> {
    let cap = slot.cap();
    last_copy(slot).next().filter(|n| cap.is_ancestor_of(&n.cap()))
}

/// Every descendant of `slot`'s object, in list order. Valid while the list is unchanged.
pub fn descendants(slot: Slot) -> impl Iterator<Item = Slot> {
    let cap = slot.cap();
    let mut next = first_descendant(slot);
    core::iter::from_fn(move || {
        let current = next?;
        next = current.next().filter(|n| cap.is_ancestor_of(&n.cap()));
        Some(current)
    })
}

/// Where a new child of `parent` goes: after the parent's copy group and any children
/// already inserted by the same operation (`previous`).
pub fn insert_child(parent: Slot, previous: Option<Slot>, child: Slot) {
    insert_after(previous.unwrap_or_else(|| last_copy(parent)), child);
}
