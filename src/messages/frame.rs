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
//! This module knows bytes only: no sockets, no actors, no message types.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Bytes before the frame lengths: header length and frame count.
pub const PREFIX_LEN: usize = 8;

/// One message on the wire: an encoded header and zero or more raw data frames.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The bincode-encoded message.
    pub header: Bytes,
    /// Raw data frames that travel beside the header.
    pub frames: Vec<Bytes>,
}

impl Envelope {
    /// An envelope with a header and no data frames.
    pub fn new(header: impl Into<Bytes>) -> Self {
        Envelope {
            header: header.into(),
            frames: Vec::new(),
        }
    }

    /// Bytes this envelope takes on the wire.
    pub fn wire_len(&self) -> usize {
        PREFIX_LEN
            + 8 * self.frames.len()
            + self.header.len()
            + self.frames.iter().map(Bytes::len).sum::<usize>()
    }

    /// Writes the prefix and frame lengths (not the header or frames themselves).
    pub fn put_prefix(&self, out: &mut impl BufMut) {
        out.put_u32_le(self.header.len() as u32);
        out.put_u32_le(self.frames.len() as u32);
        for frame in &self.frames {
            out.put_u64_le(frame.len() as u64);
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
    /// Most data frames in one message (default 4096).
    pub max_frames: u32,
    /// Largest single data frame (default 2 GiB).
    pub max_frame: u64,
    /// Largest message, header and frames together (default 4 GiB − 1).
    pub max_message: u64,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            max_header: 64 << 20,
            max_frames: 4096,
            max_frame: 2 << 30,
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
    /// Data frame lengths.
    pub frame_lens: Vec<usize>,
}

impl Layout {
    /// Bytes of header and frames (after the prefix and lengths).
    pub fn body_len(&self) -> usize {
        self.header_len + self.frame_lens.iter().sum::<usize>()
    }

    /// Bytes of the prefix and the frame lengths.
    pub fn lengths_len(&self) -> usize {
        PREFIX_LEN + 8 * self.frame_lens.len()
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
        let mut frame_lens = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = lengths.get_u64_le();
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
            frame_lens.push(len as usize);
        }
        Ok(Layout {
            header_len: header_len as usize,
            frame_lens,
        })
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
        Ok(Some(Envelope { header, frames }))
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
mod tests {
    use super::*;

    fn wire(envelope: &Envelope) -> BytesMut {
        let mut out = BytesMut::new();
        envelope.put_all(&mut out);
        out
    }

    fn sample() -> Envelope {
        Envelope {
            header: Bytes::from_static(b"head"),
            frames: vec![Bytes::from_static(b"abc"), Bytes::new()],
        }
    }

    #[test]
    fn round_trip_with_frames() {
        let mut buf = wire(&sample());
        assert_eq!(buf.len(), sample().wire_len());
        let got = EnvelopeDecoder::default().decode(&mut buf).unwrap();
        assert_eq!(got, Some(sample()));
        assert!(buf.is_empty());
    }

    #[test]
    fn golden_bytes() {
        let expected: &[u8] = &[
            4, 0, 0, 0, 2, 0, 0, 0, // header_len, frame_count
            3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // frame lengths
            b'h', b'e', b'a', b'd', b'a', b'b', b'c',
        ];
        assert_eq!(&wire(&sample())[..], expected);
    }

    #[test]
    fn arrives_byte_by_byte() {
        let all = wire(&sample());
        let mut decoder = EnvelopeDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for byte in all.iter() {
            assert!(got.is_none());
            buf.put_u8(*byte);
            got = decoder.decode(&mut buf).unwrap();
        }
        assert_eq!(got, Some(sample()));
    }

    #[test]
    fn two_messages_in_one_read() {
        let mut buf = wire(&sample());
        buf.extend_from_slice(&wire(&Envelope::new(Bytes::from_static(b"x"))));
        let mut decoder = EnvelopeDecoder::default();
        assert_eq!(decoder.decode(&mut buf).unwrap(), Some(sample()));
        let second = decoder.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&second.header[..], b"x");
    }

    #[test]
    fn four_gib_header_is_refused_before_allocating() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0][..]);
        let err = EnvelopeDecoder::default().decode(&mut buf).unwrap_err();
        assert!(matches!(
            err,
            FrameError::HeaderTooLarge {
                len: 0xffff_ffff,
                ..
            }
        ));
        assert!(buf.capacity() < 1024);
    }

    #[test]
    fn every_bound_is_enforced() {
        let limits = FrameLimits {
            max_header: 10,
            max_frames: 2,
            max_frame: 100,
            max_message: 150,
        };
        let check = |envelope: Envelope| EnvelopeDecoder::new(limits).decode(&mut wire(&envelope));
        let frame = |n: usize| Bytes::from(vec![0_u8; n]);
        assert!(matches!(
            check(Envelope::new(frame(11))),
            Err(FrameError::HeaderTooLarge { len: 11, max: 10 })
        ));
        let three = Envelope {
            header: frame(1),
            frames: vec![frame(1), frame(1), frame(1)],
        };
        assert!(matches!(
            check(three),
            Err(FrameError::TooManyFrames { count: 3, max: 2 })
        ));
        let big = Envelope {
            header: frame(1),
            frames: vec![frame(101)],
        };
        assert!(matches!(
            check(big),
            Err(FrameError::FrameTooLarge { len: 101, .. })
        ));
        let total = Envelope {
            header: frame(10),
            frames: vec![frame(100), frame(41)],
        };
        assert!(matches!(
            check(total),
            Err(FrameError::MessageTooLarge { len: 151, .. })
        ));
        let fits = Envelope {
            header: frame(10),
            frames: vec![frame(100), frame(40)],
        };
        assert!(check(fits).unwrap().is_some());
    }

    #[test]
    fn truncated_message_at_eof_is_an_error() {
        let all = wire(&sample());
        let mut buf = BytesMut::from(&all[..all.len() - 1]);
        let err = EnvelopeDecoder::default().decode_eof(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }));
    }

    #[test]
    fn clean_eof_is_not_an_error() {
        let mut buf = BytesMut::new();
        assert!(EnvelopeDecoder::default()
            .decode_eof(&mut buf)
            .unwrap()
            .is_none());
    }
}
