//! The messages monitors exchange for the capability protocol, and their encoding.
//!
//! A message is a kind word followed by fixed fields, one word each (an [`ObjectKey`] takes
//! three: type, base, size; a result takes two: code, kernel error). Every kind has exactly
//! one length, and [`Msg::decode`] checks the length, every field's range and that nothing
//! is left over before it returns anything, so a message is either understood whole or
//! refused whole. Encoding is canonical: `decode(encode(m)) == m`, and a decoded message
//! re-encodes to the very words it came from.
//!
//! Who sends each message, and when, is in `docs/capability-protocol.md`.

use super::{KernelError, ObjectKey, ProtocolError, Rights, Slot};
use crate::{CoreId, CoreSet, DecodeError, MAX_CORES};
use alloc::vec::Vec;

/// A message between two monitors' [`CapNode`](super::CapNode)s.
///
/// `req` numbers a request at the core that made it (its `origin`), `install` numbers a
/// copy at the owner that sent it; each is meaningful only to the core that chose it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// To the owner: `origin` asks for a copy of `obj` with `rights` in slot `dest` of core
    /// `to` (a move too: the origin deletes its source once the copy is in).
    CopyRequest { obj: ObjectKey, origin: CoreId, req: u64, rights: Rights, to: CoreId, dest: Slot },
    /// To the owner: `origin` asks to retype its copy of `obj`.
    RetypeRequest { obj: ObjectKey, origin: CoreId, req: u64 },
    /// To the owner: `origin` asks to revoke `obj` through its copy.
    RevokeRequest { obj: ObjectKey, origin: CoreId, req: u64 },
    /// To the owner: `origin` holds no copy of `obj` any more.
    Dropped { obj: ObjectKey, origin: CoreId },
    /// Owner to a core: install a copy of `obj` (owned by the sender) in slot `dest`.
    Install { obj: ObjectKey, rights: Rights, install: u64, dest: Slot },
    /// Answer to [`Msg::Install`]: the copy is in, or why not.
    InstallDone { obj: ObjectKey, install: u64, result: Result<(), ProtocolError> },
    /// Owner to a core it lists as maybe holding descendants: do you still?
    Probe { obj: ObjectKey },
    /// Answer to [`Msg::Probe`].
    ProbeReply { obj: ObjectKey, has_descendants: bool },
    /// Owner to every core that may hold copies or descendants: a revoke by `revoker`
    /// (its request `req`) begins; start no operation on `obj`.
    Mark { obj: ObjectKey, revoker: CoreId, req: u64 },
    /// Answer to [`Msg::Mark`]; `keeps` is false only from a revoker whose capability is
    /// gone, which calls the revoke off.
    MarkAck { obj: ObjectKey, keeps: bool },
    /// Owner to every marked core: delete your copies (the revoker keeps its one) and
    /// descendants.
    Commit { obj: ObjectKey, revoker: CoreId, req: u64 },
    /// Answer to [`Msg::Commit`]; `holds` says whether the sender (the revoker) still holds
    /// the capability it revoked through.
    CommitAck { obj: ObjectKey, holds: bool },
    /// Owner to every marked core: the revoke is called off.
    Unmark { obj: ObjectKey },
    /// Answer to [`Msg::Unmark`].
    UnmarkAck { obj: ObjectKey },
    /// The owner's answer to a request: done, granted (a retype), or why not.
    Reply { req: u64, result: Result<(), ProtocolError> },
    /// Old owner to new owner: you own `obj` now; `holders` and `descendants` are the other
    /// cores that may hold copies and descendants.
    Handover { obj: ObjectKey, holders: CoreSet, descendants: CoreSet },
    /// Old owner to the other holders: `owner` owns `obj` now.
    NewOwner { obj: ObjectKey, owner: CoreId },
    /// Answer to [`Msg::Handover`] and [`Msg::NewOwner`], to the old owner: everything the
    /// sender will ever send the old owner about `obj` has been sent.
    OwnerAck { obj: ObjectKey },
    /// Old owner to new owner: every message for `obj` that reached the old owner has been
    /// passed on; act.
    ForwardingDone { obj: ObjectKey },
}

mod kind {
    pub const COPY_REQUEST: u64 = 1;
    pub const RETYPE_REQUEST: u64 = 2;
    pub const REVOKE_REQUEST: u64 = 3;
    pub const DROPPED: u64 = 4;
    pub const INSTALL: u64 = 5;
    pub const INSTALL_DONE: u64 = 6;
    pub const PROBE: u64 = 7;
    pub const PROBE_REPLY: u64 = 8;
    pub const MARK: u64 = 9;
    pub const MARK_ACK: u64 = 10;
    pub const COMMIT: u64 = 11;
    pub const COMMIT_ACK: u64 = 12;
    pub const UNMARK: u64 = 13;
    pub const REPLY: u64 = 14;
    pub const HANDOVER: u64 = 15;
    pub const NEW_OWNER: u64 = 16;
    pub const OWNER_ACK: u64 = 17;
    pub const FORWARDING_DONE: u64 = 18;
    pub const UNMARK_ACK: u64 = 19;
}

/// Result codes, first word of an encoded result; the second word is the kernel's error
/// code for the two kernel variants and 0 otherwise.
mod result_code {
    pub const OK: u64 = 0;
    pub const NOT_HELD: u64 = 1;
    pub const BAD_CORE: u64 = 2;
    pub const REVOKED: u64 = 3;
    pub const DESCENDANTS_EXIST: u64 = 4;
    pub const DESTINATION_REFUSED: u64 = 5;
    pub const KERNEL: u64 = 6;
}

impl Msg {
    /// The object the message is about; `None` for [`Msg::Reply`], which only the request
    /// number ties to anything.
    pub fn object(&self) -> Option<ObjectKey> {
        match *self {
            Msg::Reply { .. } => None,
            Msg::CopyRequest { obj, .. }
            | Msg::RetypeRequest { obj, .. }
            | Msg::RevokeRequest { obj, .. }
            | Msg::Dropped { obj, .. }
            | Msg::Install { obj, .. }
            | Msg::InstallDone { obj, .. }
            | Msg::Probe { obj }
            | Msg::ProbeReply { obj, .. }
            | Msg::Mark { obj, .. }
            | Msg::MarkAck { obj, .. }
            | Msg::Commit { obj, .. }
            | Msg::CommitAck { obj, .. }
            | Msg::Unmark { obj }
            | Msg::UnmarkAck { obj }
            | Msg::Handover { obj, .. }
            | Msg::NewOwner { obj, .. }
            | Msg::OwnerAck { obj }
            | Msg::ForwardingDone { obj } => Some(obj),
        }
    }

    /// Appends the message's words to `out`.
    pub fn encode(&self, out: &mut Vec<u64>) {
        let mut w = Writer(out);
        match *self {
            Msg::CopyRequest { obj, origin, req, rights, to, dest } => {
                w.word(kind::COPY_REQUEST).key(obj).core(origin).word(req);
                w.word(rights.0 as u64).core(to).word(dest.0);
            }
            Msg::RetypeRequest { obj, origin, req } => {
                w.word(kind::RETYPE_REQUEST).key(obj).core(origin).word(req);
            }
            Msg::RevokeRequest { obj, origin, req } => {
                w.word(kind::REVOKE_REQUEST).key(obj).core(origin).word(req);
            }
            Msg::Dropped { obj, origin } => {
                w.word(kind::DROPPED).key(obj).core(origin);
            }
            Msg::Install { obj, rights, install, dest } => {
                w.word(kind::INSTALL).key(obj).word(rights.0 as u64).word(install).word(dest.0);
            }
            Msg::InstallDone { obj, install, result } => {
                w.word(kind::INSTALL_DONE).key(obj).word(install).result(result);
            }
            Msg::Probe { obj } => {
                w.word(kind::PROBE).key(obj);
            }
            Msg::ProbeReply { obj, has_descendants } => {
                w.word(kind::PROBE_REPLY).key(obj).flag(has_descendants);
            }
            Msg::Mark { obj, revoker, req } => {
                w.word(kind::MARK).key(obj).core(revoker).word(req);
            }
            Msg::MarkAck { obj, keeps } => {
                w.word(kind::MARK_ACK).key(obj).flag(keeps);
            }
            Msg::Commit { obj, revoker, req } => {
                w.word(kind::COMMIT).key(obj).core(revoker).word(req);
            }
            Msg::CommitAck { obj, holds } => {
                w.word(kind::COMMIT_ACK).key(obj).flag(holds);
            }
            Msg::Unmark { obj } => {
                w.word(kind::UNMARK).key(obj);
            }
            Msg::UnmarkAck { obj } => {
                w.word(kind::UNMARK_ACK).key(obj);
            }
            Msg::Reply { req, result } => {
                w.word(kind::REPLY).word(req).result(result);
            }
            Msg::Handover { obj, holders, descendants } => {
                w.word(kind::HANDOVER).key(obj).word(holders.0).word(descendants.0);
            }
            Msg::NewOwner { obj, owner } => {
                w.word(kind::NEW_OWNER).key(obj).core(owner);
            }
            Msg::OwnerAck { obj } => {
                w.word(kind::OWNER_ACK).key(obj);
            }
            Msg::ForwardingDone { obj } => {
                w.word(kind::FORWARDING_DONE).key(obj);
            }
        }
    }

    /// Decodes a message another monitor sent, checking every word.
    pub fn decode(words: &[u64]) -> Result<Msg, DecodeError> {
        let mut r = Reader { words, at: 0 };
        // Struct fields are evaluated in the order written, which is the order on the wire.
        let msg = match r.word()? {
            kind::COPY_REQUEST => Msg::CopyRequest {
                obj: r.key()?,
                origin: r.core()?,
                req: r.word()?,
                rights: r.rights()?,
                to: r.core()?,
                dest: Slot(r.word()?),
            },
            kind::RETYPE_REQUEST => Msg::RetypeRequest { obj: r.key()?, origin: r.core()?, req: r.word()? },
            kind::REVOKE_REQUEST => Msg::RevokeRequest { obj: r.key()?, origin: r.core()?, req: r.word()? },
            kind::DROPPED => Msg::Dropped { obj: r.key()?, origin: r.core()? },
            kind::INSTALL => {
                Msg::Install { obj: r.key()?, rights: r.rights()?, install: r.word()?, dest: Slot(r.word()?) }
            }
            kind::INSTALL_DONE => Msg::InstallDone { obj: r.key()?, install: r.word()?, result: r.result()? },
            kind::PROBE => Msg::Probe { obj: r.key()? },
            kind::PROBE_REPLY => Msg::ProbeReply { obj: r.key()?, has_descendants: r.flag()? },
            kind::MARK => Msg::Mark { obj: r.key()?, revoker: r.core()?, req: r.word()? },
            kind::MARK_ACK => Msg::MarkAck { obj: r.key()?, keeps: r.flag()? },
            kind::COMMIT => Msg::Commit { obj: r.key()?, revoker: r.core()?, req: r.word()? },
            kind::COMMIT_ACK => Msg::CommitAck { obj: r.key()?, holds: r.flag()? },
            kind::UNMARK => Msg::Unmark { obj: r.key()? },
            kind::UNMARK_ACK => Msg::UnmarkAck { obj: r.key()? },
            kind::REPLY => Msg::Reply { req: r.word()?, result: r.result()? },
            kind::HANDOVER => {
                Msg::Handover { obj: r.key()?, holders: CoreSet(r.word()?), descendants: CoreSet(r.word()?) }
            }
            kind::NEW_OWNER => Msg::NewOwner { obj: r.key()?, owner: r.core()? },
            kind::OWNER_ACK => Msg::OwnerAck { obj: r.key()? },
            kind::FORWARDING_DONE => Msg::ForwardingDone { obj: r.key()? },
            _ => return Err(DecodeError::UnknownKind),
        };
        if r.at != words.len() {
            return Err(DecodeError::Length);
        }
        Ok(msg)
    }
}

struct Writer<'a>(&'a mut Vec<u64>);

impl Writer<'_> {
    fn word(&mut self, word: u64) -> &mut Self {
        self.0.push(word);
        self
    }

    fn key(&mut self, obj: ObjectKey) -> &mut Self {
        self.word(obj.type_code as u64).word(obj.base).word(obj.size_bytes)
    }

    fn core(&mut self, core: CoreId) -> &mut Self {
        self.word(core.0 as u64)
    }

    fn flag(&mut self, flag: bool) -> &mut Self {
        self.word(flag as u64)
    }

    fn result(&mut self, result: Result<(), ProtocolError>) -> &mut Self {
        let (code, detail) = match result {
            Ok(()) => (result_code::OK, 0),
            Err(ProtocolError::NotHeld) => (result_code::NOT_HELD, 0),
            Err(ProtocolError::BadCore) => (result_code::BAD_CORE, 0),
            Err(ProtocolError::Revoked) => (result_code::REVOKED, 0),
            Err(ProtocolError::DescendantsExist) => (result_code::DESCENDANTS_EXIST, 0),
            Err(ProtocolError::DestinationRefused(e)) => (result_code::DESTINATION_REFUSED, e.0),
            Err(ProtocolError::Kernel(e)) => (result_code::KERNEL, e.0),
        };
        self.word(code).word(detail)
    }
}

/// Reads a message's words in order. Every read is bounds-checked: a short message is a
/// [`DecodeError::Length`], never an out-of-bounds access.
struct Reader<'a> {
    words: &'a [u64],
    at: usize,
}

impl Reader<'_> {
    fn word(&mut self) -> Result<u64, DecodeError> {
        let word = *self.words.get(self.at).ok_or(DecodeError::Length)?;
        self.at += 1;
        Ok(word)
    }

    fn key(&mut self) -> Result<ObjectKey, DecodeError> {
        let type_code = self.word()?;
        let base = self.word()?;
        let size_bytes = self.word()?;
        // Type 0 is the null capability, which names nothing; an object that would end past
        // the top of the address space names no memory.
        let type_code = u8::try_from(type_code).ok().filter(|&t| t != 0).ok_or(DecodeError::BadField)?;
        base.checked_add(size_bytes).ok_or(DecodeError::BadField)?;
        Ok(ObjectKey { type_code, base, size_bytes })
    }

    fn core(&mut self) -> Result<CoreId, DecodeError> {
        let core = self.word()?;
        if core >= MAX_CORES as u64 {
            return Err(DecodeError::BadField);
        }
        Ok(CoreId(core as u8))
    }

    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.word()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::BadField),
        }
    }

    fn rights(&mut self) -> Result<Rights, DecodeError> {
        u8::try_from(self.word()?).map(Rights).map_err(|_| DecodeError::BadField)
    }

    fn result(&mut self) -> Result<Result<(), ProtocolError>, DecodeError> {
        let code = self.word()?;
        let detail = self.word()?;
        let plain = |error| if detail == 0 { Ok(Err(error)) } else { Err(DecodeError::BadField) };
        match code {
            result_code::OK if detail == 0 => Ok(Ok(())),
            result_code::NOT_HELD => plain(ProtocolError::NotHeld),
            result_code::BAD_CORE => plain(ProtocolError::BadCore),
            result_code::REVOKED => plain(ProtocolError::Revoked),
            result_code::DESCENDANTS_EXIST => plain(ProtocolError::DescendantsExist),
            result_code::DESTINATION_REFUSED => {
                Ok(Err(ProtocolError::DestinationRefused(KernelError(detail))))
            }
            result_code::KERNEL => Ok(Err(ProtocolError::Kernel(KernelError(detail)))),
            _ => Err(DecodeError::BadField),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: ObjectKey = ObjectKey { type_code: 1, base: 0x8000_0000, size_bytes: 0x10_0000 };

    /// One message of every kind, with every result variant somewhere.
    fn every_kind() -> Vec<Msg> {
        let obj = RAM;
        vec![
            Msg::CopyRequest {
                obj,
                origin: CoreId(3),
                req: 7,
                rights: Rights(0b1011),
                to: CoreId(63),
                dest: Slot(u64::MAX),
            },
            Msg::RetypeRequest { obj, origin: CoreId(0), req: 1 },
            Msg::RevokeRequest { obj, origin: CoreId(1), req: u64::MAX },
            Msg::Dropped { obj, origin: CoreId(2) },
            Msg::Install { obj, rights: Rights(0xff), install: 9, dest: Slot(0x1_0002) },
            Msg::InstallDone { obj, install: 9, result: Ok(()) },
            Msg::InstallDone {
                obj,
                install: 9,
                result: Err(ProtocolError::DestinationRefused(KernelError(4))),
            },
            Msg::InstallDone { obj, install: 9, result: Err(ProtocolError::Revoked) },
            Msg::Probe { obj },
            Msg::ProbeReply { obj, has_descendants: true },
            Msg::Mark { obj, revoker: CoreId(5), req: 11 },
            Msg::MarkAck { obj, keeps: false },
            Msg::Commit { obj, revoker: CoreId(5), req: 11 },
            Msg::CommitAck { obj, holds: true },
            Msg::Unmark { obj },
            Msg::UnmarkAck { obj },
            Msg::Reply { req: 3, result: Err(ProtocolError::NotHeld) },
            Msg::Reply { req: 3, result: Err(ProtocolError::BadCore) },
            Msg::Reply { req: 3, result: Err(ProtocolError::DescendantsExist) },
            Msg::Reply { req: 3, result: Err(ProtocolError::Kernel(KernelError(6))) },
            Msg::Handover { obj, holders: CoreSet(0b1010), descendants: CoreSet(u64::MAX) },
            Msg::NewOwner { obj, owner: CoreId(4) },
            Msg::OwnerAck { obj },
            Msg::ForwardingDone { obj },
        ]
    }

    fn encoded(msg: &Msg) -> Vec<u64> {
        let mut words = Vec::new();
        msg.encode(&mut words);
        words
    }

    #[test]
    fn every_message_round_trips() {
        for msg in every_kind() {
            assert_eq!(Msg::decode(&encoded(&msg)), Ok(msg), "{msg:?}");
        }
    }

    #[test]
    fn encoding_appends_to_what_the_monitor_already_wrote() {
        let mut words = vec![0xfeed];
        Msg::Probe { obj: RAM }.encode(&mut words);
        assert_eq!(words[0], 0xfeed);
        assert_eq!(Msg::decode(&words[1..]), Ok(Msg::Probe { obj: RAM }));
    }

    #[test]
    fn truncated_or_padded_messages_are_length_errors() {
        assert_eq!(Msg::decode(&[]), Err(DecodeError::Length));
        for msg in every_kind() {
            let words = encoded(&msg);
            for len in 1..words.len() {
                assert_eq!(Msg::decode(&words[..len]), Err(DecodeError::Length), "{msg:?} cut to {len}");
            }
            let mut longer = words.clone();
            longer.push(0);
            assert_eq!(Msg::decode(&longer), Err(DecodeError::Length), "{msg:?} padded");
        }
    }

    #[test]
    fn unknown_kinds_are_refused() {
        for kind in [0, 20, 1000, u64::MAX] {
            assert_eq!(Msg::decode(&[kind, 1, 0, 4096]), Err(DecodeError::UnknownKind));
        }
    }

    /// Each case replaces one word of a valid message with a value no correct peer sends.
    #[test]
    fn out_of_range_fields_are_refused() {
        let copy = encoded(&Msg::CopyRequest {
            obj: RAM,
            origin: CoreId(1),
            req: 1,
            rights: Rights(1),
            to: CoreId(2),
            dest: Slot(0),
        });
        let cases: [(usize, u64, &str); 6] = [
            (1, 0, "null type"),
            (1, 256, "type wider than a byte"),
            (3, u64::MAX, "object past the end of the address space"),
            (4, 64, "origin core beyond MAX_CORES"),
            (6, 256, "rights wider than a byte"),
            (7, u64::MAX, "destination core beyond MAX_CORES"),
        ];
        for (index, value, what) in cases {
            let mut words = copy.clone();
            words[index] = value;
            assert_eq!(Msg::decode(&words), Err(DecodeError::BadField), "{what}");
        }
        let mut flag = encoded(&Msg::MarkAck { obj: RAM, keeps: true });
        flag[4] = 2;
        assert_eq!(Msg::decode(&flag), Err(DecodeError::BadField), "a flag that is neither 0 nor 1");
        for (code, detail) in [(7, 0), (u64::MAX, 0), (0, 1), (3, 5)] {
            let words = [kind::REPLY, 1, code, detail];
            assert_eq!(Msg::decode(&words), Err(DecodeError::BadField), "result ({code}, {detail})");
        }
    }

    /// A tiny deterministic generator (xorshift64): the tests need no dependency.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        /// Mostly small values, so that kinds and fields are often almost valid.
        fn word(&mut self) -> u64 {
            match self.next() % 4 {
                0 => self.next(),
                1 => self.next() % 4,
                _ => self.next() % 70,
            }
        }
    }

    #[test]
    fn garbage_never_panics_and_what_decodes_is_canonical() {
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let valid: Vec<Vec<u64>> = every_kind().iter().map(encoded).collect();
        let mut decoded = 0;
        for round in 0..200_000 {
            let words: Vec<u64> = if round % 2 == 0 {
                let len = (noise.next() % 12) as usize;
                (0..len).map(|_| noise.word()).collect()
            } else {
                // A valid message with one word changed: the hardest garbage to catch.
                let mut words = valid[(noise.next() as usize) % valid.len()].clone();
                let at = (noise.next() as usize) % words.len();
                words[at] = noise.word();
                words
            };
            if let Ok(msg) = Msg::decode(&words) {
                decoded += 1;
                assert_eq!(encoded(&msg), words, "{msg:?} does not re-encode to its words");
            }
        }
        assert!(decoded > 1000, "the generator should also produce valid messages ({decoded})");
    }
}
