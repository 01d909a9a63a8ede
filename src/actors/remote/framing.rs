//! The pure [`EnvelopeDecoder`] as a `tokio_util` codec, so sessions read frames as a stream.

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use crate::messages::frame::{Envelope, EnvelopeDecoder, FrameError};

impl Decoder for EnvelopeDecoder {
    type Item = Envelope;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>, FrameError> {
        EnvelopeDecoder::decode(self, src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>, FrameError> {
        EnvelopeDecoder::decode_eof(self, src)
    }
}
