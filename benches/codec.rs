//! The wire codec's cost, through the public `messages` API only: small messages (one
//! compute order, a batch of 64, a batch of 64 "finished" reports) encoded and decoded with
//! `messages::codec`, and large data frames (1 MiB, 64 MiB) written into an envelope's
//! wire bytes and read back by the `EnvelopeDecoder`, as a value travels between workers.
//!
//! Criterion reports elements (messages) per second for the small messages and bytes per
//! second for the frames. The profile puts bincode at 5–10% of any thread: this
//! bench is here to notice a regression, not because the codec is the lever.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use taskforce::ids::{FunctionId, TaskKey, WorkerId};
use taskforce::messages::center_link::{CenterToWorker, TaskEvent, WorkerToCenter};
use taskforce::messages::codec;
use taskforce::messages::frame::EnvelopeDecoder;
use taskforce::messages::tasks::{ComputeMsg, PriorityMsg};
use taskforce::messages::{Envelope, FrameLimits};

fn key(i: usize) -> TaskKey {
    TaskKey::new(format!("inc-{:016x}-{i}", 0x9e37_79b9_7f4a_7c15_u64))
}

fn compute(i: usize) -> ComputeMsg {
    ComputeMsg {
        key: key(i),
        function: FunctionId::new("inc", 0x5eed),
        spec: vec![0u8; 48].into(),
        deps: if i == 0 {
            Vec::new()
        } else {
            vec![(key(i - 1), vec![WorkerId(2)])]
        },
        priority: PriorityMsg {
            generation: 1,
            order: i as i64,
        },
    }
}

fn compute_batch(n: usize) -> CenterToWorker {
    CenterToWorker::Compute {
        tasks: (0..n).map(compute).collect(),
        peers: vec![(WorkerId(2), SocketAddr::from(([127, 0, 0, 1], 7002)))],
    }
}

fn finished_batch(n: usize) -> WorkerToCenter {
    WorkerToCenter::TaskEvents(
        (0..n)
            .map(|i| TaskEvent::Finished {
                key: key(i),
                nbytes: 8,
                inline: None,
            })
            .collect(),
    )
}

fn small_messages(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec_small");
    let cases = [
        ("compute_1", 1, Message::ToWorker(compute_batch(1))),
        ("compute_64", 64, Message::ToWorker(compute_batch(64))),
        ("finished_64", 64, Message::ToCenter(finished_batch(64))),
    ];
    for (name, tasks, message) in &cases {
        group.throughput(Throughput::Elements(*tasks));
        group.bench_with_input(BenchmarkId::new("encode", name), message, |b, m| {
            b.iter(|| m.encode());
        });
        let bytes = message.encode();
        group.bench_with_input(BenchmarkId::new("decode", name), &bytes, |b, bytes| {
            b.iter(|| message.decode_same_kind(bytes));
        });
    }
    group.finish();
}

/// A message of either direction, so one loop benches both.
enum Message {
    ToWorker(CenterToWorker),
    ToCenter(WorkerToCenter),
}

impl Message {
    fn encode(&self) -> Vec<u8> {
        match self {
            Message::ToWorker(m) => codec::encode(m).expect("encode"),
            Message::ToCenter(m) => codec::encode(m).expect("encode"),
        }
    }
    fn decode_same_kind(&self, bytes: &[u8]) {
        match self {
            Message::ToWorker(_) => {
                black_box(codec::decode::<CenterToWorker>(bytes).expect("decode"));
            }
            Message::ToCenter(_) => {
                black_box(codec::decode::<WorkerToCenter>(bytes).expect("decode"));
            }
        }
    }
}

fn large_frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec_frames");
    for mib in [1usize, 64] {
        let frame = Bytes::from(vec![7u8; mib << 20]);
        let header = codec::encode(&finished_batch(1)).expect("encode");
        let envelope = Envelope {
            frames: vec![frame.clone()],
            ..Envelope::new(header)
        };
        group.throughput(Throughput::Bytes(envelope.wire_len() as u64));
        // Writing copies the frame into the output buffer, as the socket writer does.
        group.bench_with_input(BenchmarkId::new("write", mib), &envelope, |b, e| {
            b.iter(|| {
                let mut out = BytesMut::with_capacity(e.wire_len());
                e.put_all(&mut out);
                out
            });
        });
        let mut wire = BytesMut::with_capacity(envelope.wire_len());
        envelope.put_all(&mut wire);
        let wire = wire.freeze();
        group.bench_with_input(BenchmarkId::new("read", mib), &wire, |b, wire| {
            b.iter(|| {
                // The copy stands for the socket read into the decoder's buffer.
                let mut src = BytesMut::from(&wire[..]);
                let mut decoder = EnvelopeDecoder::new(FrameLimits::default());
                let read = decoder.decode(&mut src).expect("valid").expect("whole");
                assert_eq!(read.frames[0].len(), frame.len());
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).sample_size(20);
    targets = small_messages, large_frames
}
criterion_main!(benches);
