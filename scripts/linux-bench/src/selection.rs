//! Which benchmarks to run: the words Linux passes to init from after `--` on the kernel
//! command line.

use core::fmt;

/// The benchmarks a boot runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub urpc: bool,
    pub update: bool,
    pub unmap: bool,
    pub boot: bool,
}

/// An argument that names no benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown<'a>(pub &'a str);

impl fmt::Display for Unknown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a benchmark (urpc, update, unmap, boot, all)", self.0)
    }
}

impl Selection {
    /// Reads the arguments after the program's name; none at all selects every benchmark.
    pub fn parse<'a>(arguments: impl IntoIterator<Item = &'a str>) -> Result<Selection, Unknown<'a>> {
        let mut selection = Selection::default();
        let mut any = false;
        for argument in arguments {
            any = true;
            match argument {
                "urpc" => selection.urpc = true,
                "update" => selection.update = true,
                "unmap" => selection.unmap = true,
                "boot" => selection.boot = true,
                "all" => selection = Selection { urpc: true, update: true, unmap: true, boot: true },
                other => return Err(Unknown(other)),
            }
        }
        if !any {
            selection = Selection { urpc: true, update: true, unmap: true, boot: true };
        }
        Ok(selection)
    }
}

/// The program's arguments, its own name left out.
#[cfg(target_os = "none")]
#[derive(Clone, Copy)]
pub struct Arguments {
    next: *const *const u8,
    left: usize,
}

#[cfg(target_os = "none")]
impl Arguments {
    /// # Safety
    ///
    /// `stack` is Linux's initial stack: `argc`, then `argc` pointers to NUL-terminated
    /// strings that live as long as the program.
    pub unsafe fn from_initial_stack(stack: *const usize) -> Arguments {
        // SAFETY: as the caller promises.
        let argc = unsafe { *stack };
        let argv = unsafe { stack.add(1) }.cast::<*const u8>();
        Arguments { next: unsafe { argv.add(1) }, left: argc.saturating_sub(1) }
    }
}

#[cfg(target_os = "none")]
impl Iterator for Arguments {
    /// An argument; one that is not UTF-8 reads as `?`, which names no benchmark.
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.left == 0 {
            return None;
        }
        // SAFETY: `from_initial_stack`'s promise: a pointer to a NUL-terminated string.
        let text = unsafe { core::ffi::CStr::from_ptr((*self.next).cast()) };
        self.next = unsafe { self.next.add(1) };
        self.left -= 1;
        Some(text.to_str().unwrap_or("?"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_select_their_benchmarks() {
        let selection = Selection::parse(["urpc", "boot"]).unwrap();
        assert_eq!(selection, Selection { urpc: true, boot: true, ..Selection::default() });
    }

    #[test]
    fn all_and_no_argument_select_everything() {
        let everything = Selection { urpc: true, update: true, unmap: true, boot: true };
        assert_eq!(Selection::parse(["all"]).unwrap(), everything);
        assert_eq!(Selection::parse([]).unwrap(), everything);
    }

    #[test]
    fn an_unknown_name_is_refused_by_name() {
        let refused = Selection::parse(["urpc", "revoke"]).unwrap_err();
        assert_eq!(refused, Unknown("revoke"));
        assert!(refused.to_string().contains("`revoke` is not a benchmark"));
    }
}
