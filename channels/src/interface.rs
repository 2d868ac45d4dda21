//! [`interface!`](crate::interface!): describe an interface once, get its message enum, encoding, client stub
//! and server dispatch. This is our Flounder, Barrelfish's interface compiler, as a
//! `macro_rules!` macro: no build step, no generated files, and the description is Rust a
//! reader can follow into the code it becomes.
//!
//! The macro writes only glue. Encoding each argument, the envelope, checking a reply
//! against its call and moving words through the rings are ordinary functions in
//! [`crate::rpc`], shared by every interface.
//!
//! Names are kept as the interface writes them: a call `ping` is the variant
//! `Request::ping`, the client method `ping` and the handler method `ping`
//! (`macro_rules!` cannot change the case of an identifier, and one name for one thing
//! everywhere is easier to follow than two).

/// Generates a module for an interface.
///
/// An interface is a list of calls (`call name(args) -> Result;`: the server replies) and
/// one-way messages (`message name(args);`), sent by the client to the server. Arguments
/// and results are [`rpc::Wire`](crate::rpc::Wire) types: `u64`, `u32`, `bool`,
/// [`Bytes`](crate::rpc::Bytes). Types are named as in the module around the invocation.
///
/// ```
/// use channels::rpc::Bytes;
///
/// channels::interface! {
///     /// A test service.
///     pub mod echo {
///         /// Returns its argument.
///         call ping(value: u64) -> u64;
///         /// Appends to the server's log.
///         message log(text: Bytes);
///     }
/// }
///
/// struct Service;
///
/// impl echo::Handler for Service {
///     fn ping(&mut self, value: u64) -> u64 {
///         value
///     }
///
///     fn log(&mut self, _text: &[u8]) {}
/// }
/// # fn main() {}
/// ```
///
/// The module holds:
///
/// - `Request<'a>`: one variant per call and message, with its arguments as fields
///   (borrowing the received message for [`Bytes`](crate::rpc::Bytes)); `Request::decode`
///   checks a received request and decodes it, and it is a
///   [`rpc::Message`](crate::rpc::Message), which encodes it;
/// - `Handler`: the trait a server implements, one method per call (returning the result)
///   and per message;
/// - `dispatch(handler, request, reply)`: decodes a request, calls the handler, and for a
///   call encodes the reply;
/// - `Client`: over a [`rpc::Connection`](crate::rpc::Connection), one method per call
///   (sending the request with a fresh call id and returning the decoded result) and per
///   message;
/// - `Server`: a handler over a connection, answering one request per `serve_one`.
#[macro_export]
macro_rules! interface {
    // Internal rules first: they start with `@`, which no public invocation does.
    //
    // `@parse` moves the items one at a time into a uniform list, giving one-way messages
    // the result `()`, which no code generated for them uses.
    (@parse $head:tt [$($done:tt)*]
        $(#[$doc:meta])* call $name:ident ($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty; $($rest:tt)*
    ) => {
        $crate::interface!(@parse $head
            [$($done)* [$(#[$doc])*] call $name ($($arg: $ty),*) -> $ret;] $($rest)*);
    };
    (@parse $head:tt [$($done:tt)*]
        $(#[$doc:meta])* message $name:ident ($($arg:ident : $ty:ty),* $(,)?); $($rest:tt)*
    ) => {
        $crate::interface!(@parse $head
            [$($done)* [$(#[$doc])*] message $name ($($arg: $ty),*) -> ();] $($rest)*);
    };
    (@parse [$(#[$attr:meta])* $vis:vis mod $module:ident]
        [$([$(#[$doc:meta])*] $kind:ident $name:ident ($($arg:ident : $ty:ty),*) -> $ret:ty;)*]
    ) => {
        $(#[$attr])*
        $vis mod $module {
            // The interface names its types as the code around it does.
            #[allow(unused_imports)]
            use super::*;

            /// The interface's calls and one-way messages, as a server receives them.
            #[allow(non_camel_case_types)]
            #[derive(Clone, Copy, Debug, PartialEq)]
            pub enum Request<'a> {
                $($(#[$doc])* $name { $($arg: <$ty as $crate::rpc::Wire>::Value<'a>),* },)*
                /// Never built: it makes every interface use `'a`, even one whose
                /// arguments borrow nothing. Matches by value may leave it out.
                #[doc(hidden)]
                __Lifetime(::core::convert::Infallible, ::core::marker::PhantomData<&'a ()>),
            }

            /// Tags: each call's and message's position in the interface.
            #[allow(non_camel_case_types)]
            #[derive(Clone, Copy)]
            enum Tag {
                $($name,)*
            }

            impl<'a> Request<'a> {
                /// Decodes a received request, checking its tag, kind and arguments.
                pub fn decode(
                    words: &'a [u64],
                ) -> ::core::result::Result<($crate::rpc::Envelope, Request<'a>), $crate::rpc::BadMessage> {
                    #[allow(unused_mut)]
                    let (envelope, mut arguments) = $crate::rpc::open_request(words)?;
                    $(
                        if envelope.tag == Tag::$name as u16 {
                            envelope.expect_kind($crate::interface!(@kind $kind))?;
                            $(let $arg = <$ty as $crate::rpc::Wire>::decode(&mut arguments)?;)*
                            arguments.finish()?;
                            return Ok((envelope, Request::$name { $($arg),* }));
                        }
                    )*
                    Err($crate::rpc::BadMessage::UnknownTag)
                }
            }

            impl $crate::rpc::Message for Request<'_> {
                fn tag(&self) -> u16 {
                    match self {
                        $(Request::$name { .. } => Tag::$name as u16,)*
                        Request::__Lifetime(never, _) => match *never {},
                    }
                }

                fn encode_arguments(
                    &self,
                    out: &mut $crate::rpc::Encoder<'_>,
                ) -> ::core::result::Result<(), $crate::rpc::RpcError> {
                    match self {
                        $(Request::$name { $($arg),* } => {
                            $(<$ty as $crate::rpc::Wire>::encode($arg, out)?;)*
                        })*
                        Request::__Lifetime(never, _) => match *never {},
                    }
                    Ok(())
                }
            }

            /// What a server of this interface does: one method per call and message.
            pub trait Handler {
                $($crate::interface!(@handler [$(#[$doc])*] $kind $name ($($arg: $ty),*) -> $ret);)*
            }

            /// Decodes `request`, hands it to `handler`, and for a call encodes the reply
            /// into `reply`, returning its length in words.
            pub fn dispatch<H: Handler + ?Sized>(
                handler: &mut H,
                request: &[u64],
                reply: &mut [u64],
            ) -> ::core::result::Result<::core::option::Option<usize>, $crate::rpc::RpcError> {
                let (envelope, request) = Request::decode(request)?;
                match request {
                    $(Request::$name { $($arg),* } => {
                        $crate::interface!(@serve $kind handler envelope reply $name ($($arg),*) -> $ret)
                    })*
                }
            }

            /// The client's end of a connection: one method per call and message.
            #[derive(Debug)]
            pub struct Client<M: $crate::Memory, N: $crate::Notify, W: $crate::Wait> {
                connection: $crate::rpc::Connection<M, N, W>,
            }

            impl<M: $crate::Memory, N: $crate::Notify, W: $crate::Wait> Client<M, N, W> {
                pub fn new(connection: $crate::rpc::Connection<M, N, W>) -> Self {
                    Client { connection }
                }

                pub fn connection(&self) -> &$crate::rpc::Connection<M, N, W> {
                    &self.connection
                }

                $($crate::interface!(@client [$(#[$doc])*] $kind $name ($($arg: $ty),*) -> $ret);)*
            }

            /// A handler serving the server's end of a connection.
            #[derive(Debug)]
            pub struct Server<H: Handler, M: $crate::Memory, N: $crate::Notify, W: $crate::Wait> {
                handler: H,
                connection: $crate::rpc::Connection<M, N, W>,
            }

            impl<H: Handler, M: $crate::Memory, N: $crate::Notify, W: $crate::Wait> Server<H, M, N, W> {
                pub fn new(handler: H, connection: $crate::rpc::Connection<M, N, W>) -> Self {
                    Server { handler, connection }
                }

                /// Waits for one request, hands it to the handler, and replies to a call.
                pub fn serve_one(&mut self) -> ::core::result::Result<(), $crate::rpc::RpcError> {
                    let handler = &mut self.handler;
                    self.connection.serve_one(|request, reply| dispatch(handler, request, reply))
                }

                pub fn handler(&self) -> &H {
                    &self.handler
                }

                pub fn connection(&self) -> &$crate::rpc::Connection<M, N, W> {
                    &self.connection
                }
            }
        }
    };
    (@kind call) => { $crate::rpc::Kind::Call };
    (@kind message) => { $crate::rpc::Kind::Message };
    (@handler [$(#[$doc:meta])*] call $name:ident ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        fn $name(
            &mut self,
            $($arg: <$ty as $crate::rpc::Wire>::Value<'_>),*
        ) -> <$ret as $crate::rpc::Wire>::Value<'_>;
    };
    (@handler [$(#[$doc:meta])*] message $name:ident ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        fn $name(&mut self, $($arg: <$ty as $crate::rpc::Wire>::Value<'_>),*);
    };
    (@serve call $handler:ident $envelope:ident $reply:ident
        $name:ident ($($arg:ident),*) -> $ret:ty
    ) => {{
        let result = $handler.$name($($arg),*);
        $crate::rpc::encode_reply::<$ret>($envelope, &result, $reply).map(Some)
    }};
    (@serve message $handler:ident $envelope:ident $reply:ident
        $name:ident ($($arg:ident),*) -> $ret:ty
    ) => {{
        $handler.$name($($arg),*);
        Ok(None)
    }};
    (@client [$(#[$doc:meta])*] call $name:ident ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        pub fn $name(
            &mut self,
            $($arg: <$ty as $crate::rpc::Wire>::Value<'_>),*
        ) -> ::core::result::Result<<$ret as $crate::rpc::Wire>::Value<'_>, $crate::rpc::RpcError> {
            let mut reply = self.connection.call(&Request::$name { $($arg),* })?;
            let result = <$ret as $crate::rpc::Wire>::decode(&mut reply)?;
            reply.finish()?;
            Ok(result)
        }
    };
    (@client [$(#[$doc:meta])*] message $name:ident ($($arg:ident : $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        pub fn $name(
            &mut self,
            $($arg: <$ty as $crate::rpc::Wire>::Value<'_>),*
        ) -> ::core::result::Result<(), $crate::rpc::RpcError> {
            self.connection.send(&Request::$name { $($arg),* })
        }
    };
    // The public rule.
    (
        $(#[$attr:meta])*
        $vis:vis mod $module:ident {
            $($items:tt)*
        }
    ) => {
        $crate::interface!(@parse [$(#[$attr])* $vis mod $module] [] $($items)*);
    };
}
