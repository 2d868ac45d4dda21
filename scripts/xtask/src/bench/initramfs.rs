//! An initramfs for the Linux baseline: a cpio archive in the "new ASCII" (`newc`) format,
//! which Linux unpacks into its first root file system before starting `/init`
//! (Linux `Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! Each entry is a 110-byte header of the magic `070701` and thirteen 8-digit hexadecimal
//! fields, then the path and a NUL, padded with NULs to a multiple of four bytes, then the
//! file's data, padded the same way. An entry named `TRAILER!!!` ends the archive. Writing
//! it here rather than with `cpio(1)` lets the archive hold a device node (`/dev/console`,
//! which the kernel opens for init's standard output) without root, and makes it the same
//! bytes every time: owner root, time 0, inodes numbered in order.

/// File type bits of `c_mode` (POSIX `<sys/stat.h>`: `S_IFDIR`, `S_IFREG`, `S_IFCHR`).
const DIRECTORY: u32 = 0o040_000;
const REGULAR: u32 = 0o100_000;
const CHARACTER_DEVICE: u32 = 0o020_000;

const MAGIC: &str = "070701";
const TRAILER: &str = "TRAILER!!!";

/// A cpio archive being written.
pub struct Archive {
    bytes: Vec<u8>,
    next_inode: u32,
}

/// One entry's header fields besides name and inode.
struct Entry {
    mode: u32,
    links: u32,
    size: usize,
    device: (u32, u32),
}

impl Archive {
    pub fn new() -> Archive {
        Archive { bytes: Vec::new(), next_inode: 1 }
    }

    /// A directory `path` (no leading `/`) with permission bits `permissions`.
    pub fn directory(&mut self, path: &str, permissions: u32) {
        let entry = Entry { mode: DIRECTORY | permissions, links: 2, size: 0, device: (0, 0) };
        self.entry(path, &entry, &[]);
    }

    /// A regular file `path` holding `data`.
    pub fn file(&mut self, path: &str, permissions: u32, data: &[u8]) {
        let entry = Entry { mode: REGULAR | permissions, links: 1, size: data.len(), device: (0, 0) };
        self.entry(path, &entry, data);
    }

    /// A character device node `path` for device `major:minor`.
    pub fn character_device(&mut self, path: &str, permissions: u32, major: u32, minor: u32) {
        let entry = Entry { mode: CHARACTER_DEVICE | permissions, links: 1, size: 0, device: (major, minor) };
        self.entry(path, &entry, &[]);
    }

    /// The archive, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.next_inode = 0;
        self.entry(TRAILER, &Entry { mode: 0, links: 1, size: 0, device: (0, 0) }, &[]);
        self.bytes
    }

    fn entry(&mut self, path: &str, entry: &Entry, data: &[u8]) {
        let inode = self.next_inode;
        self.next_inode += 1;
        let fields = [
            inode,
            entry.mode,
            0, // uid: root
            0, // gid: root
            entry.links,
            0, // mtime: the epoch, so the archive is the same bytes every time
            u32::try_from(entry.size).expect("initramfs files are far below 4 GiB"),
            0, // devmajor, devminor: the device the file lives on
            0,
            entry.device.0, // rdevmajor, rdevminor: the device a node stands for
            entry.device.1,
            u32::try_from(path.len() + 1).expect("a short path"),
            0, // check: only for the `070702` format
        ];
        self.bytes.extend_from_slice(MAGIC.as_bytes());
        for field in fields {
            self.bytes.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.bytes.extend_from_slice(path.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

impl Default for Archive {
    fn default() -> Archive {
        Archive::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry read back: path, mode, the device a node stands for, data.
    type ReadEntry = (String, u32, (u32, u32), Vec<u8>);

    /// Reads an archive back, trailer included; checks the magic and the padding on the
    /// way.
    fn read(archive: &[u8]) -> Vec<ReadEntry> {
        let mut entries = Vec::new();
        let mut at = 0;
        while at < archive.len() {
            assert_eq!(at % 4, 0, "every header starts 4-byte aligned");
            let header = std::str::from_utf8(&archive[at..at + 110]).unwrap();
            assert_eq!(&header[..6], MAGIC);
            let field = |i: usize| u32::from_str_radix(&header[6 + 8 * i..14 + 8 * i], 16).unwrap();
            let (size, name_size) = (field(6) as usize, field(11) as usize);
            let name_start = at + 110;
            let name = &archive[name_start..name_start + name_size];
            assert_eq!(name.last(), Some(&0), "names end in NUL");
            let data_start = (name_start + name_size).next_multiple_of(4);
            let data = archive[data_start..data_start + size].to_vec();
            let path = String::from_utf8(name[..name_size - 1].to_vec()).unwrap();
            entries.push((path, field(1), (field(9), field(10)), data));
            at = (data_start + size).next_multiple_of(4);
        }
        entries
    }

    #[test]
    fn an_entry_is_the_header_fields_in_hex_then_the_name() {
        let mut archive = Archive::new();
        archive.directory("dev", 0o755);
        let bytes = archive.finish();
        let expected_header = "070701\
            00000001000041ed000000000000000000000002\
            00000000000000000000000000000000\
            000000000000000000000004\
            00000000";
        assert_eq!(&bytes[..110], expected_header.as_bytes());
        assert_eq!(&bytes[110..116], b"dev\0\0\0", "110 + 4 bytes of name, padded to 116");
    }

    #[test]
    fn files_nodes_and_the_trailer_read_back() {
        let mut archive = Archive::new();
        archive.directory("dev", 0o755);
        archive.character_device("dev/console", 0o600, 5, 1);
        archive.file("init", 0o755, b"\x7fELF and five");
        let entries = read(&archive.finish());
        let summary: Vec<(&str, u32, (u32, u32), usize)> =
            entries.iter().map(|(p, m, r, d)| (p.as_str(), *m, *r, d.len())).collect();
        assert_eq!(
            summary,
            [
                ("dev", 0o040_755, (0, 0), 0),
                ("dev/console", 0o020_600, (5, 1), 0),
                ("init", 0o100_755, (0, 0), 13),
                ("TRAILER!!!", 0, (0, 0), 0),
            ]
        );
        assert_eq!(entries[2].3, b"\x7fELF and five");
    }

    #[test]
    fn the_same_contents_give_the_same_bytes() {
        let build = || {
            let mut archive = Archive::new();
            archive.file("init", 0o755, &[1, 2, 3]);
            archive.finish()
        };
        assert_eq!(build(), build());
        assert!(build().len().is_multiple_of(4));
    }
}
