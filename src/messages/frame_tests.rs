//! Tests of the framing: round trips, golden bytes, limits, frames in pieces.

use super::*;

fn wire(envelope: &Envelope) -> BytesMut {
    let mut out = BytesMut::new();
    envelope.put_all(&mut out);
    out
}

fn sample() -> Envelope {
    Envelope {
        frames: vec![Bytes::from_static(b"abc"), Bytes::new()],
        ..Envelope::new(Bytes::from_static(b"head"))
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
        frames: vec![frame(1), frame(1), frame(1)],
        ..Envelope::new(frame(1))
    };
    assert!(matches!(
        check(three),
        Err(FrameError::TooManyFrames { count: 3, max: 2 })
    ));
    let big = Envelope {
        frames: vec![frame(101)],
        ..Envelope::new(frame(1))
    };
    assert!(matches!(
        check(big),
        Err(FrameError::FrameTooLarge { len: 101, .. })
    ));
    let total = Envelope {
        frames: vec![frame(100), frame(41)],
        ..Envelope::new(frame(10))
    };
    assert!(matches!(
        check(total),
        Err(FrameError::MessageTooLarge { len: 151, .. })
    ));
    let fits = Envelope {
        frames: vec![frame(100), frame(40)],
        ..Envelope::new(frame(10))
    };
    assert!(check(fits).unwrap().is_some());
}

#[test]
fn a_frame_over_the_piece_size_travels_in_pieces_and_comes_back_whole() {
    let limits = FrameLimits {
        max_header: 10,
        max_frames: 8,
        max_frame: 4,
        max_message: 100,
    };
    let value = Bytes::from((0..10_u8).collect::<Vec<_>>());
    let sent = Envelope {
        frames: vec![value.clone(), Bytes::from_static(b"xy"), Bytes::new()],
        max_piece: limits.max_frame,
        ..Envelope::new(Bytes::from_static(b"h"))
    };
    assert_eq!(sent.piece_count(), 3 + 1 + 1);
    assert_eq!(
        limits.check_outgoing(&sent).map_err(|e| e.to_string()),
        Ok(())
    );
    let mut buf = wire(&sent);
    assert_eq!(buf.len(), sent.wire_len());
    assert_eq!(&buf[4..8], &5_u32.to_le_bytes());
    assert_eq!(&buf[8..16], &(4 | CONTINUED).to_le_bytes());
    let got = EnvelopeDecoder::new(limits)
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(got.frames, sent.frames);
    assert!(buf.is_empty());
}

#[test]
fn an_outgoing_message_over_a_limit_is_named_before_it_is_sent() {
    let limits = FrameLimits {
        max_header: 10,
        max_frames: 2,
        max_frame: 4,
        max_message: 20,
    };
    let envelope = |frames: Vec<Bytes>| Envelope {
        frames,
        max_piece: limits.max_frame,
        ..Envelope::new(Bytes::from_static(b"h"))
    };
    let nine = Bytes::from(vec![0_u8; 9]);
    assert!(matches!(
        limits.check_outgoing(&envelope(vec![nine])),
        Err(FrameError::TooManyFrames { count: 3, max: 2 })
    ));
    let four = Bytes::from(vec![0_u8; 4]);
    let two_pieces = envelope(vec![four.clone(), four]);
    assert!(limits.check_outgoing(&two_pieces).is_ok());
    let small = FrameLimits {
        max_message: 5,
        ..limits
    };
    assert!(matches!(
        small.check_outgoing(&two_pieces),
        Err(FrameError::MessageTooLarge { len: 9, max: 5 })
    ));
    let long_header = Envelope::new(Bytes::from(vec![0_u8; 11]));
    assert!(matches!(
        limits.check_outgoing(&long_header),
        Err(FrameError::HeaderTooLarge { len: 11, max: 10 })
    ));
}

#[test]
fn a_last_piece_that_continues_is_refused() {
    let mut buf = BytesMut::new();
    buf.put_u32_le(0);
    buf.put_u32_le(1);
    buf.put_u64_le(1 | CONTINUED);
    buf.put_u8(0);
    let err = EnvelopeDecoder::default().decode(&mut buf).unwrap_err();
    assert!(matches!(err, FrameError::UnfinishedFrame));
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
