//! Framing: how one message sits on a byte stream.
//!
//! ```text
//! u32 header_len | u32 frame_count | u64 frame_len × frame_count | header | frame 0 | frame 1 …
//! ```
//! All integers are little endian. The header is a bincode-encoded message; the data frames
//! are raw bytes (a value's own bytes, e.g. the f64s of an array chunk). Every length is
//! checked against [`FrameLimits`] before anything is allocated, so garbage or a hostile
//! length prefix costs one closed connection and nothing else.
//!
//! A data frame longer than the largest frame a peer accepts travels as several pieces: each
//! piece's length but the last has the top bit set ([`CONTINUED`]), and the reader joins
//! them back into one frame (without copying: the pieces lie next to each other in its
//! buffer). So a value has no size ceiling but the whole message's limit.
//!
//! This module knows bytes only: no sockets, no actors, no message types.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes before the frame lengths: header length and frame count.
pub const PREFIX_LEN: usize = 8;

/// The bit of a piece's length that says the frame goes on in the next piece.
pub const CONTINUED: u64 = 1 << 63;

/// The largest data frame (or piece of one) accepted by default: 2 GiB.
pub const DEFAULT_MAX_FRAME: u64 = 2 << 30;

/// One message on the wire: an encoded header and zero or more raw data frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The bincode-encoded message.
    pub header: Bytes,
    /// Raw data frames that travel beside the header.
    pub frames: Vec<Bytes>,
    /// Frames longer than this are written as pieces of at most this many bytes (the
    /// receiver's `max_frame`; default [`DEFAULT_MAX_FRAME`]).
    pub max_piece: u64,
}

impl Default for Envelope {
    fn default() -> Self {
        Envelope::new(Bytes::new())
    }
}

impl Envelope {
    /// An envelope with a header and no data frames.
    pub fn new(header: impl Into<Bytes>) -> Self {
        Envelope {
            header: header.into(),
            frames: Vec::new(),
            max_piece: DEFAULT_MAX_FRAME,
        }
    }

    /// Pieces a frame of `len` bytes is written as (an empty frame is one empty piece).
    fn pieces_of(&self, len: usize) -> usize {
        (len as u64).div_ceil(self.max_piece.max(1)).max(1) as usize
    }

    /// Pieces of all the data frames: the frame count on the wire.
    pub fn piece_count(&self) -> usize {
        self.frames.iter().map(|f| self.pieces_of(f.len())).sum()
    }

    /// Bytes of header and frames, without the lengths before them.
    pub fn body_len(&self) -> usize {
        self.header.len() + self.frames.iter().map(Bytes::len).sum::<usize>()
    }

    /// Bytes this envelope takes on the wire.
    pub fn wire_len(&self) -> usize {
        PREFIX_LEN + 8 * self.piece_count() + self.body_len()
    }

    /// Writes the prefix and the pieces' lengths (not the header or frames themselves).
    pub fn put_prefix(&self, out: &mut impl BufMut) {
        out.put_u32_le(self.header.len() as u32);
        out.put_u32_le(u32::try_from(self.piece_count()).unwrap_or(u32::MAX));
        let piece = self.max_piece.max(1);
        for frame in &self.frames {
            let mut left = frame.len() as u64;
            while left > piece {
                out.put_u64_le(piece | CONTINUED);
                left -= piece;
            }
            out.put_u64_le(left);
        }
    }

    /// Writes the whole envelope into `out`.
    pub fn put_all(&self, out: &mut impl BufMut) {
        self.put_prefix(out);
        out.put_slice(&self.header);
        for frame in &self.frames {
            out.put_slice(frame);
        }
    }
}

/// Upper bounds on what a peer may announce. Checked before any allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest header (default 64 MiB).
    pub max_header: u32,
    /// Most data frames (pieces of frames) in one message (default 4096).
    pub max_frames: u32,
    /// Largest single piece of a data frame (default 2 GiB); a longer frame travels as
    /// several pieces.
    pub max_frame: u64,
    /// Largest message, header and frames together (default 4 GiB − 1).
    pub max_message: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_header: 64 << 20,
            max_frames: 4096,
            max_frame: DEFAULT_MAX_FRAME,
            max_message: (4 << 30) - 1,
        }
    }
}

/// Why a byte stream is not a valid sequence of frames. The connection that sent it is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The header length is over the limit.
    #[error("header of {len} bytes is over the limit of {max} bytes")]
    HeaderTooLarge {
        /// Announced length.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// Too many data frames announced.
    #[error("{count} data frames announced, over the limit of {max}")]
    TooManyFrames {
        /// Announced count.
        count: u32,
        /// The limit in force.
        max: u32,
    },
    /// One data frame is over the limit.
    #[error("data frame of {len} bytes is over the limit of {max} bytes")]
    FrameTooLarge {
        /// Announced length.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// The whole message is over the limit.
    #[error("message of {len} bytes is over the limit of {max} bytes")]
    MessageTooLarge {
        /// Announced total.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// The last piece announced says another piece follows.
    #[error("the last data frame announced continues in a frame that is not there")]
    UnfinishedFrame,
    /// The stream ended in the middle of a message.
    #[error("connection closed in the middle of a message ({have} bytes of it received)")]
    Truncated {
        /// Bytes of the unfinished message that had arrived.
        have: usize,
    },
    /// Reading or writing the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// The sizes a complete prefix announces, already checked against the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Header length.
    pub header_len: usize,
    /// Data frame lengths, each frame's pieces joined.
    pub frame_lens: Vec<usize>,
    /// Pieces announced (the frame count on the wire).
    pub pieces: usize,
}

impl Layout {
    /// Bytes of header and frames (after the prefix and lengths).
    pub fn body_len(&self) -> usize {
        self.header_len + self.frame_lens.iter().sum::<usize>()
    }

    /// Bytes of the prefix and the frame lengths.
    pub fn lengths_len(&self) -> usize {
        PREFIX_LEN + 8 * self.pieces
    }
}

impl FrameLimits {
    /// Checks the fixed prefix; returns `(header_len, frame_count)`.
    pub fn check_prefix(&self, prefix: [u8; PREFIX_LEN]) -> Result<(u32, u32), FrameError> {
        let header_len = u32::from_le_bytes(prefix[..4].try_into().expect("4 bytes"));
        let count = u32::from_le_bytes(prefix[4..].try_into().expect("4 bytes"));
        if header_len > self.max_header {
            return Err(FrameError::HeaderTooLarge {
                len: header_len.into(),
                max: self.max_header.into(),
            });
        }
        if count > self.max_frames {
            return Err(FrameError::TooManyFrames {
                count,
                max: self.max_frames,
            });
        }
        Ok((header_len, count))
    }

    /// Checks the frame lengths that follow a valid prefix and returns the message layout.
    pub fn check_lengths(
        &self,
        header_len: u32,
        mut lengths: impl Buf,
        count: u32,
    ) -> Result<Layout, FrameError> {
        let mut total = u64::from(header_len);
        let mut frame_lens = Vec::new();
        let mut frame = 0_u64;
        let mut continued = false;
        for _ in 0..count {
            let raw = lengths.get_u64_le();
            let len = raw & !CONTINUED;
            continued = raw & CONTINUED != 0;
            if len > self.max_frame {
                return Err(FrameError::FrameTooLarge {
                    len,
                    max: self.max_frame,
                });
            }
            total += len;
            if total > self.max_message {
                return Err(FrameError::MessageTooLarge {
                    len: total,
                    max: self.max_message,
                });
            }
            frame += len;
            if !continued {
                frame_lens.push(frame as usize);
                frame = 0;
            }
        }
        if continued {
            return Err(FrameError::UnfinishedFrame);
        }
        Ok(Layout {
            header_len: header_len as usize,
            frame_lens,
            pieces: count as usize,
        })
    }

    /// Checks a message this side is about to send against these limits (the peer's, when
    /// both ends of a link share them), with `envelope.max_piece` set from them: an error
    /// here fails the one call that sent it, where the peer would close the connection.
    pub fn check_outgoing(&self, envelope: &Envelope) -> Result<(), FrameError> {
        let header = envelope.header.len() as u64;
        if header > u64::from(self.max_header) {
            return Err(FrameError::HeaderTooLarge {
                len: header,
                max: self.max_header.into(),
            });
        }
        let pieces = envelope.piece_count();
        if pieces > self.max_frames as usize {
            return Err(FrameError::TooManyFrames {
                count: u32::try_from(pieces).unwrap_or(u32::MAX),
                max: self.max_frames,
            });
        }
        let total = envelope.body_len() as u64;
        if total > self.max_message {
            return Err(FrameError::MessageTooLarge {
                len: total,
                max: self.max_message,
            });
        }
        Ok(())
    }
}

/// An incremental decoder of [`Envelope`]s that enforces [`FrameLimits`]; the remote layer
/// adapts it to `tokio_util`'s `Decoder`.
#[derive(Debug, Default)]
pub struct EnvelopeDecoder {
    limits: FrameLimits,
    layout: Option<Layout>,
}

impl EnvelopeDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: FrameLimits) -> Self {
        EnvelopeDecoder {
            limits,
            layout: None,
        }
    }

    fn read_layout(&mut self, src: &mut BytesMut) -> Result<Option<Layout>, FrameError> {
        if src.len() < PREFIX_LEN {
            return Ok(None);
        }
        let prefix: [u8; PREFIX_LEN] = src[..PREFIX_LEN].try_into().expect("prefix");
        let (header_len, count) = self.limits.check_prefix(prefix)?;
        let lengths_end = PREFIX_LEN + 8 * count as usize;
        if src.len() < lengths_end {
            return Ok(None);
        }
        let layout = self
            .limits
            .check_lengths(header_len, &src[PREFIX_LEN..lengths_end], count)?;
        src.advance(lengths_end);
        Ok(Some(layout))
    }

    /// The next whole envelope in `src`, or `None` until more bytes arrive.
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>, FrameError> {
        if self.layout.is_none() {
            self.layout = self.read_layout(src)?;
        }
        let Some(layout) = &self.layout else {
            return Ok(None);
        };
        let body_len = layout.body_len();
        if src.len() < body_len {
            // Bounded by the limits checked above, so this reservation is safe.
            src.reserve(body_len - src.len());
            return Ok(None);
        }
        let layout = self.layout.take().expect("layout present");
        let header = src.split_to(layout.header_len).freeze();
        let frames = layout
            .frame_lens
            .iter()
            .map(|&len| src.split_to(len).freeze())
            .collect();
        Ok(Some(Envelope {
            frames,
            ..Envelope::new(header)
        }))
    }

    /// As [`decode`](Self::decode), at the end of the stream: a partial frame is an error.
    pub fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>, FrameError> {
        match self.decode(src)? {
            Some(envelope) => Ok(Some(envelope)),
            None if src.is_empty() && self.layout.is_none() => Ok(None),
            None => Err(FrameError::Truncated { have: src.len() }),
        }
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
