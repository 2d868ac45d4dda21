//! Device trees for tests: QEMU's own, and deliberately broken ones.

use crate::Machine;
use std::path::{Path, PathBuf};

/// The tree QEMU generates for `machine` (virt only), as a file under `dir`.
pub fn dump_qemu_tree(machine: &Machine, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut dumping = machine.clone();
    // QEMU merges repeated -machine options; `dumpdtb` makes it write the tree and exit.
    dumping.extra = vec!["-machine".into(), format!("dumpdtb={}", path.display())];
    let status = dumping
        .command(&crate::qemu(), &crate::image(machine.board), false)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("running QEMU to dump its tree");
    assert!(status.success(), "QEMU could not dump its device tree");
    path
}

fn be_u32(blob: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(blob[at..at + 4].try_into().expect("4 bytes"))
}

/// Points the name of the first property inside a node whose name starts with
/// `node_prefix` far outside the strings block: a structurally corrupt tree that libfdt
/// (and so QEMU) still loads, because neither looks at that property.
pub fn with_corrupt_property_name(blob: &[u8], node_prefix: &str) -> Vec<u8> {
    const BEGIN_NODE: u32 = 1;
    const END_NODE: u32 = 2;
    const PROP: u32 = 3;
    const NOP: u32 = 4;
    let mut out = blob.to_vec();
    let mut at = be_u32(blob, 8) as usize; // off_dt_struct
    let mut inside = Vec::new();
    loop {
        match be_u32(blob, at) {
            BEGIN_NODE => {
                let end = at + 4 + blob[at + 4..].iter().position(|&b| b == 0).expect("node name ends");
                inside.push(String::from_utf8_lossy(&blob[at + 4..end]).into_owned());
                at = (end + 1 + 3) & !3;
            }
            END_NODE => {
                inside.pop();
                at += 4;
            }
            PROP => {
                let len = be_u32(blob, at + 4) as usize;
                if inside.last().is_some_and(|n| n.starts_with(node_prefix)) {
                    out[at + 8..at + 12].copy_from_slice(&0x7fff_ff00u32.to_be_bytes());
                    return out;
                }
                at = (at + 12 + len + 3) & !3;
            }
            NOP => at += 4,
            _ => panic!("no property inside a node named {node_prefix}*"),
        }
    }
}
