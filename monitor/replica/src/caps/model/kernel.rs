//! One core's capability database, reduced to what the protocol can observe: which slots
//! hold a copy of which object, how many descendants each object has here, and the
//! relations recorded on the copies.
//!
//! Besides implementing [`LocalKernel`], it keeps two things a real kernel has no use for:
//! a *generation* on every copy (the model's way of telling copies that a revoke must have
//! deleted from copies made afterwards), and a log of the events the checker inspects after
//! each step.

use crate::caps::{KernelError, LocalKernel, ObjectKey, Relations, Rights, Slot};
use crate::CoreId;
use std::collections::BTreeMap;

/// The CPU driver's `SysError` codes the model returns.
pub const SLOT_OCCUPIED: KernelError = KernelError(4);
pub const REVOKE_FIRST: KernelError = KernelError(5);
pub const SLOT_EMPTY: KernelError = KernelError(17);

/// What the checker wants to know happened during one step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    Installed {
        obj: ObjectKey,
        dest: Slot,
    },
    /// The revoker's commit (or a local revoke) kept `slot`, if it still held a copy.
    RevokedKeeping {
        obj: ObjectKey,
        slot: Slot,
    },
    Retyped {
        obj: ObjectKey,
        slot: Slot,
    },
    Reclaimed {
        obj: ObjectKey,
        descendants_may_remain: bool,
    },
}

/// An object as one core sees it. Exists only while the core holds a copy or descendant,
/// so that equal situations hash equally.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Local {
    /// Slot → generation of the copy in it.
    pub slots: BTreeMap<Slot, u32>,
    pub descendants: u32,
    /// The generation of the copy the descendants were retyped from (there is one retype
    /// at a time on a core: the model's kernel refuses a retype over descendants).
    pub descendant_generation: u32,
    /// The relations recorded on the copies (meaningless without copies, so reset with them).
    pub relations: Option<Relations>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ModelKernel {
    pub objects: BTreeMap<ObjectKey, Local>,
    /// Emptied by the checker after every step.
    pub events: Vec<Event>,
}

impl ModelKernel {
    pub fn local(&self, obj: ObjectKey) -> Option<&Local> {
        self.objects.get(&obj)
    }

    pub fn descendants(&self, obj: ObjectKey) -> u32 {
        self.local(obj).map_or(0, |local| local.descendants)
    }

    /// The generation of the copy in `slot`, if there is one.
    pub fn generation(&self, obj: ObjectKey, slot: Slot) -> Option<u32> {
        self.local(obj)?.slots.get(&slot).copied()
    }

    pub fn set_descendant_generation(&mut self, obj: ObjectKey, generation: u32) {
        if let Some(local) = self.objects.get_mut(&obj) {
            local.descendant_generation = generation;
        }
    }

    pub fn set_generation(&mut self, obj: ObjectKey, slot: Slot, generation: u32) {
        if let Some(copy) = self.objects.get_mut(&obj).and_then(|local| local.slots.get_mut(&slot)) {
            *copy = generation;
        }
    }

    /// A capability made on this core from nothing (as at boot), owned here.
    pub fn create(&mut self, obj: ObjectKey, slot: Slot, owner: CoreId) {
        let local = self.objects.entry(obj).or_default();
        local.slots.insert(slot, 0);
        local.relations = Some(Relations { owner, remote: false });
    }

    /// A program's copy within the core: the CPU driver does it without the monitor, and
    /// the copy inherits everything, relations included.
    pub fn local_copy(&mut self, obj: ObjectKey, from: Slot, dest: Slot) -> bool {
        if self.slot_taken(dest) {
            return false;
        }
        let Some(local) = self.objects.get_mut(&obj) else { return false };
        let Some(&generation) = local.slots.get(&from) else { return false };
        local.slots.insert(dest, generation);
        true
    }

    /// A program deleting every object it retyped from `obj` here (a local revoke of them,
    /// which needs no monitor).
    pub fn drop_descendants(&mut self, obj: ObjectKey) {
        self.delete_descendants(obj);
    }

    fn slot_taken(&self, slot: Slot) -> bool {
        self.objects.values().any(|local| local.slots.contains_key(&slot))
    }

    /// Drops the entry of an object this core no longer has anything of.
    fn tidy(&mut self, obj: ObjectKey) {
        if let Some(local) = self.objects.get_mut(&obj) {
            if local.slots.is_empty() {
                local.relations = None;
                if local.descendants == 0 {
                    self.objects.remove(&obj);
                }
            }
        }
    }
}

impl LocalKernel for ModelKernel {
    fn holds(&self, obj: ObjectKey, slot: Slot) -> bool {
        self.generation(obj, slot).is_some()
    }

    fn copies(&self, obj: ObjectKey) -> usize {
        self.local(obj).map_or(0, |local| local.slots.len())
    }

    fn has_descendants(&self, obj: ObjectKey) -> bool {
        self.descendants(obj) > 0
    }

    fn install(
        &mut self,
        obj: ObjectKey,
        _rights: Rights,
        owner: CoreId,
        dest: Slot,
    ) -> Result<(), KernelError> {
        if self.slot_taken(dest) {
            return Err(SLOT_OCCUPIED);
        }
        let local = self.objects.entry(obj).or_default();
        local.slots.insert(dest, 0);
        local.relations = Some(Relations { owner, remote: true });
        self.events.push(Event::Installed { obj, dest });
        Ok(())
    }

    fn delete_copy(&mut self, obj: ObjectKey, slot: Slot) -> Result<(), KernelError> {
        let removed = self.objects.get_mut(&obj).and_then(|local| local.slots.remove(&slot));
        self.tidy(obj);
        removed.map(drop).ok_or(SLOT_EMPTY)
    }

    fn delete_copies(&mut self, obj: ObjectKey, keep: Option<Slot>) {
        if let Some(local) = self.objects.get_mut(&obj) {
            local.slots.retain(|slot, _| Some(*slot) == keep);
        }
        if let Some(slot) = keep {
            self.events.push(Event::RevokedKeeping { obj, slot });
        }
        self.tidy(obj);
    }

    fn delete_descendants(&mut self, obj: ObjectKey) {
        if let Some(local) = self.objects.get_mut(&obj) {
            local.descendants = 0;
            local.descendant_generation = 0;
        }
        self.tidy(obj);
    }

    /// The CPU driver's own check, coarsened as the protocol's: no retype over existing
    /// descendants on this core.
    fn retype(&mut self, obj: ObjectKey, slot: Slot, _token: u64) -> Result<(), KernelError> {
        let local =
            self.objects.get_mut(&obj).filter(|local| local.slots.contains_key(&slot)).ok_or(SLOT_EMPTY)?;
        if local.descendants > 0 {
            return Err(REVOKE_FIRST);
        }
        local.descendants = 1;
        self.events.push(Event::Retyped { obj, slot });
        Ok(())
    }

    fn set_relations(&mut self, obj: ObjectKey, relations: Relations) {
        if let Some(local) = self.objects.get_mut(&obj).filter(|local| !local.slots.is_empty()) {
            local.relations = Some(relations);
        }
    }

    fn reclaim(&mut self, obj: ObjectKey, descendants_may_remain: bool) {
        self.events.push(Event::Reclaimed { obj, descendants_may_remain });
    }
}
