//! A bounded fuzz run of everything that reads bytes from a peer: the frame reader
//! (`EnvelopeDecoder`, under the handshake's limits and a session's) and the decoder of every
//! message of `taskforce::messages`, fed random bytes and mutations of valid messages
//! (flipped, inserted and dropped bytes, huge announced lengths, truncation).
//!
//! Each input must give a value or an error, never a panic, and no single allocation while
//! reading it may exceed what the limits allow: the frame limits for the frame reader,
//! [`codec::decode_limit`] of the input's length for a decoder. A counting global allocator
//! records the largest allocation of the current thread. The run is seeded, so it is the
//! same every time, and takes a few seconds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use bytes::BytesMut;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use taskforce::ids::{FunctionId, TaskKey, WorkerId};
use taskforce::messages::auth::AuthMessage;
use taskforce::messages::center_link::{CenterToWorker, TaskEvent, WorkerToCenter};
use taskforce::messages::executor_link::{ExecutorToScheduler, SchedulerToExecutor};
use taskforce::messages::frame::EnvelopeDecoder;
use taskforce::messages::nanny_link::{CenterToNanny, NannyToCenter};
use taskforce::messages::peer_link::{PeerToWorker, ValueMeta, WorkerToPeer};
use taskforce::messages::tasks::{NewTaskMsg, PriorityMsg};
use taskforce::messages::{
    codec, FrameLimits, Hello, HelloReply, Packet, Role, Tag, HANDSHAKE_LIMITS,
};

/// The system allocator, noting the largest request of each thread.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is passed to `System` unchanged; only a thread-local is written.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `read` and returns the largest single allocation it made.
fn largest_allocation(read: impl FnOnce()) -> usize {
    LARGEST.with(|largest| largest.set(0));
    read();
    LARGEST.with(Cell::get)
}

/// Decodes `bytes` as `T`, dropping the outcome.
fn decode_as<T: serde::de::DeserializeOwned>(bytes: &[u8]) {
    let _ = codec::decode::<T>(bytes);
}

/// Every message a peer can send or answer, by name.
type Decoder = (&'static str, fn(&[u8]));

const DECODERS: &[Decoder] = &[
    ("AuthMessage", decode_as::<AuthMessage>),
    ("Hello", decode_as::<Hello>),
    ("HelloReply", decode_as::<HelloReply>),
    ("WorkerToCenter", decode_as::<Packet<WorkerToCenter>>),
    ("CenterToWorker", decode_as::<Packet<CenterToWorker>>),
    (
        "ExecutorToScheduler",
        decode_as::<Packet<ExecutorToScheduler>>,
    ),
    (
        "SchedulerToExecutor",
        decode_as::<Packet<SchedulerToExecutor>>,
    ),
    ("NannyToCenter", decode_as::<Packet<NannyToCenter>>),
    ("CenterToNanny", decode_as::<Packet<CenterToNanny>>),
    ("PeerToWorker", decode_as::<Packet<PeerToWorker>>),
    ("WorkerToPeer", decode_as::<Packet<WorkerToPeer>>),
    ("Vec<f64> value", decode_as::<Vec<f64>>),
    ("String value", decode_as::<String>),
];

fn packet<M: serde::Serialize>(body: M) -> Vec<u8> {
    codec::encode(&Packet {
        tag: Tag::Ask(7),
        body,
    })
    .expect("encodes")
}

fn key(name: &str) -> TaskKey {
    name.into()
}

/// Valid encodings of one message of each kind, the seeds of the mutations.
fn seeds() -> Vec<Vec<u8>> {
    let hello = Hello {
        role: Role::Worker,
        name: "w1".into(),
        listen_addr: Some("127.0.0.1:4000".parse().expect("an address")),
        nthreads: 2,
        memory_limit: 1 << 30,
        pid: 42,
        functions: vec![FunctionId::new("inc", 7)],
        resources: Default::default(),
    };
    let task = NewTaskMsg {
        key: key("inc-1"),
        function: FunctionId::new("inc", 7),
        spec: vec![1, 2, 3].into(),
        deps: vec![key("a")],
        order: 3,
        restrictions: None,
    };
    let events = vec![
        TaskEvent::Finished {
            key: key("x"),
            nbytes: 8,
            inline: None,
        },
        TaskEvent::MissingDependency {
            key: key("y"),
            dependency: key("x"),
            holder: WorkerId(2),
        },
    ];
    let meta = ValueMeta {
        type_name: Arc::from("f64"),
        raw: true,
    };
    vec![
        codec::encode(&AuthMessage::Response {
            nonce: [7; 32],
            proof: Some([9; 32]),
        })
        .expect("encodes"),
        codec::encode(&hello).expect("encodes"),
        codec::encode(&HelloReply::Refused {
            reason: "no".into(),
        })
        .expect("encodes"),
        packet(WorkerToCenter::TaskEvents(events)),
        packet(CenterToWorker::Release(vec![key("a"), key("b")])),
        packet(ExecutorToScheduler::UpdateGraph {
            tasks: vec![task],
            wanted: vec![key("inc-1")],
        }),
        packet(SchedulerToExecutor::Lost(vec![(key("a"), "gone".into())])),
        packet(CenterToNanny::RestartWorker),
        packet(PeerToWorker::PutData(vec![(key("a"), meta)])),
        packet(WorkerToPeer::Stored(vec![1, 300, 70_000])),
        codec::encode(&PriorityMsg::default()).expect("encodes"),
        codec::encode(&vec![1.5_f64; 4]).expect("encodes"),
    ]
}

/// One change to a valid message.
#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        byte: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
    },
    /// A varint announcing a huge length (a u32 or u64 marker, then all ones).
    HugeLength {
        at: usize,
        wide: bool,
    },
    Truncate {
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        (any::<usize>(), any::<bool>()).prop_map(|(at, wide)| Mutation::HugeLength { at, wide }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for change in mutations {
        let len = bytes.len().max(1);
        match change {
            Mutation::Flip { at, byte } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= byte | 1;
                }
            }
            Mutation::Insert { at, bytes: new } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Remove { at } if !bytes.is_empty() => {
                bytes.remove(at % len);
            }
            Mutation::Remove { .. } => {}
            Mutation::HugeLength { at, wide } => {
                let at = at % (bytes.len() + 1);
                let huge: &[u8] = if *wide {
                    &[253, 255, 255, 255, 255, 255, 255, 255, 127]
                } else {
                    &[252, 255, 255, 255, 255]
                };
                bytes.splice(at..at, huge.iter().copied());
            }
            Mutation::Truncate { at } => bytes.truncate(at % len),
        }
    }
    bytes
}

/// Decodes `bytes` as every message; fails on an allocation over the codec's stated limit.
fn check_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    let limit = codec::decode_limit(bytes.len());
    for (name, decode) in DECODERS {
        let largest = largest_allocation(|| decode(bytes));
        prop_assert!(
            largest <= limit,
            "{name}: {largest} bytes allocated reading {} bytes (limit {limit})",
            bytes.len()
        );
    }
    Ok(())
}

/// Small session limits, so that what they allow is cheap to allocate here.
const SESSION_LIMITS: FrameLimits = FrameLimits {
    max_header: 1 << 12,
    max_frames: 4,
    max_frame: 1 << 16,
    max_message: 1 << 17,
};

/// Reads `bytes` as a stream of envelopes under `limits`, then at its end.
fn check_frame_reader(bytes: &[u8], limits: FrameLimits) -> Result<(), TestCaseError> {
    let bound =
        2 * (limits.max_message as usize + 8 * limits.max_frames as usize + 8) + 2 * bytes.len();
    let mut src = BytesMut::from(bytes);
    let largest = largest_allocation(|| {
        let mut reader = EnvelopeDecoder::new(limits);
        while let Ok(Some(_)) = reader.decode(&mut src) {}
        let _ = reader.decode_eof(&mut src);
    });
    prop_assert!(
        largest <= bound,
        "frame reader: {largest} bytes allocated reading {} bytes (bound {bound})",
        bytes.len()
    );
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[test]
fn random_bytes_never_panic_nor_overallocate() {
    let input = prop::collection::vec(any::<u8>(), 0..256);
    runner(20_000)
        .run(&input, |bytes| {
            check_decoders(&bytes)?;
            check_frame_reader(&bytes, HANDSHAKE_LIMITS)?;
            check_frame_reader(&bytes, SESSION_LIMITS)
        })
        .expect("no input panics or allocates past the limits");
}

#[test]
fn mutated_messages_never_panic_nor_overallocate() {
    let seeds = seeds();
    let count = seeds.len();
    let input = (0..count, prop::collection::vec(mutation(), 1..5));
    runner(20_000)
        .run(&input, |(seed, mutations)| {
            let bytes = mutate(seeds[seed].clone(), &mutations);
            check_decoders(&bytes)?;
            let mut framed = Vec::new();
            let header_len = u32::try_from(bytes.len()).expect("small");
            framed.extend_from_slice(&header_len.to_le_bytes());
            framed.extend_from_slice(&0_u32.to_le_bytes());
            framed.extend_from_slice(&bytes);
            check_frame_reader(&mutate(framed, &mutations), SESSION_LIMITS)
        })
        .expect("no mutation panics or allocates past the limits");
}

#[test]
fn a_huge_announced_string_is_refused_without_allocating_it() {
    // A Hello whose name announces 2^62 bytes, then one whose name announces 4080 MiB (under
    // bincode's old fixed limit of 4 GiB, so it used to be allocated from 7 bytes).
    for bytes in [
        vec![0, 253, 0, 0, 0, 0, 0, 0, 0, 64],
        vec![1, 252, 0, 0, 0, 255, b'x'],
    ] {
        check_decoders(&bytes).expect("within the limit");
        assert!(codec::decode::<Hello>(&bytes).is_err());
    }
}

#[test]
fn valid_inputs_that_count_the_most_per_byte_still_decode() {
    // Each small u128 takes one byte and counts 16; each empty string takes one and counts 8.
    for n in [1, 65_535, 65_536, 100_000, 1 << 20] {
        let wide = vec![0_u128; n];
        let bytes = codec::encode(&wide).expect("encodes");
        assert_eq!(codec::decode::<Vec<u128>>(&bytes).expect("decodes"), wide);
        let names = vec![String::new(); n];
        let bytes = codec::encode(&names).expect("encodes");
        assert_eq!(
            codec::decode::<Vec<String>>(&bytes).expect("decodes"),
            names
        );
    }
}
