"""Offline speech-to-text with pocketsphinx and the en-us model its wheel ships.

It needs no network and no download, which is why it is the local default. Each channel is cut
into speech segments at pauses and every segment is decoded on its own: decoding short utterances
is faster and more accurate than one long one, and segment edges become turn edges. A 2-channel
recording keeps its channels apart (one speaker per channel, as call recorders split agent and
customer); on mono audio the segments are clustered into speakers by their voice. Steady sounds
(hold tones, beeps) are dropped before decoding: they are not speech, and pocketsphinx would turn
them into words ("ooh ooh").

The settings below were measured with bench/stt_benchmark.py (figures in its report); every one
of them is a general property of the model or of telephone audio, none is tuned to a script.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from pocketsphinx import Config, Decoder

from callcare.core.transcript import Transcript, Turn, Word
from callcare.transcription.audio import DecodedAudio
from callcare.transcription.diarization import cluster_speakers
from callcare.transcription.segmentation import is_steady_sound, speech_segments

FRAME_RATE = 100  # pocketsphinx frames per second
NOISE_WORDS = frozenset(
    {"<s>", "</s>", "<sil>", "[NOISE]", "[SPEECH]", "[BREATH]", "[COUGH]", "[UH]", "[UM]"}
)
# Segments of one speaker closer than this form one turn.
TURN_JOIN_GAP_S = 1.0
# Narrowband recordings (8 kHz telephony, resampled to 16 kHz) get white noise at this level added
# to every segment before decoding. The en-us model was trained on wideband speech that never has
# an empty band or digital silence; low-level noise gives its filterbank the floor it expects.
# bench/stt_benchmark.py, 20 dev calls in 8 kHz mu-law: 44.4% -> 39.3% WER. Anything from -80 to
# -60 dBFS helped alike on 5 calls (-50 hurt); noise only above 3.8 kHz helped less. On 16 kHz
# PCM it cost 0.7 points, so wideband audio is decoded as it is.
NARROWBAND_NOISE_DBFS = -65.0


@dataclass(frozen=True)
class SpeechSegment:
    start: float
    end: float
    samples: np.ndarray


class PocketsphinxEngine:
    name = "pocketsphinx"

    def __init__(self) -> None:
        self._decoder: Decoder | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now rather than on the first segment (benchmarks time it apart)."""
        with self._lock:
            self._get_decoder()

    def _get_decoder(self) -> Decoder:
        if self._decoder is None:
            self._decoder = Decoder(Config(loglevel="FATAL", samprate=16000))
        return self._decoder

    def segments(self, samples: np.ndarray, sample_rate: int) -> Iterator[SpeechSegment]:
        for seg in speech_segments(samples, sample_rate):
            chunk = samples[int(seg.start * sample_rate) : int(seg.end * sample_rate)]
            if is_steady_sound(chunk, sample_rate):
                continue
            yield SpeechSegment(seg.start, seg.end, chunk)

    def decode_segment(self, segment: SpeechSegment) -> list[Word]:
        pcm = np.ascontiguousarray(segment.samples).astype("<i2").tobytes()
        with self._lock:
            decoder = self._get_decoder()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            words = []
            for seg in decoder.seg():
                if seg.word in NOISE_WORDS:
                    continue
                words.append(
                    Word(
                        text=seg.word.split("(")[0],  # alternate pronunciations are written word(2)
                        start=round(segment.start + seg.start_frame / FRAME_RATE, 3),
                        end=round(segment.start + (seg.end_frame + 1) / FRAME_RATE, 3),
                        # posterior probability from the lattice: low on misrecognitions and noise
                        confidence=round(min(1.0, max(0.0, seg.prob)), 3),
                    )
                )
            return words

    def transcribe(self, call_id: str, audio: DecodedAudio) -> Transcript:
        if audio.sample_rate != 16000:
            raise ValueError("the pocketsphinx en-us model expects 16 kHz audio")
        turns: list[Turn] = []
        narrowband = audio.source_rate < audio.sample_rate
        if audio.channels == 2:
            for channel in range(2):
                labelled = [(f"ch_{channel}", s) for s in self.segments(audio.samples[channel], 16000)]
                turns.extend(self._turns(labelled, narrowband))
        else:
            mono = audio.samples[0]
            segments = list(self.segments(mono, 16000))
            labels = cluster_speakers([s.samples for s in segments], 16000)
            labelled = [(f"spk_{label}", s) for label, s in zip(labels, segments, strict=True)]
            turns.extend(self._turns(labelled, narrowband))
        turns.sort(key=lambda t: (t.start, t.end))
        return Transcript(
            call_id=call_id,
            engine=self.name,
            duration_s=round(audio.duration_s, 3),
            channels=audio.channels,
            turns=turns,
        )

    def _turns(self, labelled: list[tuple[str, SpeechSegment]], narrowband: bool = False) -> list[Turn]:
        turns: list[Turn] = []
        for speaker, segment in labelled:
            words = self.decode_segment(with_noise_floor(segment) if narrowband else segment)
            if not words:
                continue
            previous = turns[-1] if turns else None
            if (
                previous is not None
                and previous.speaker == speaker
                and segment.start - previous.end < TURN_JOIN_GAP_S
            ):
                previous.words.extend(words)
                previous.end = round(segment.end, 3)
                previous.text = " ".join(w.text for w in previous.words)
                continue
            turns.append(
                Turn(
                    speaker=speaker,
                    start=round(segment.start, 3),
                    end=round(segment.end, 3),
                    text=" ".join(w.text for w in words),
                    words=words,
                )
            )
        return turns


def with_noise_floor(segment: SpeechSegment, level_dbfs: float = NARROWBAND_NOISE_DBFS) -> SpeechSegment:
    """The segment with white noise added; seeded, so a recording always decodes the same."""
    noise = np.random.default_rng(0).normal(0.0, 32768 * 10 ** (level_dbfs / 20), len(segment.samples))
    noisy = np.clip(segment.samples.astype(np.float64) + noise, -32768, 32767).astype(np.int16)
    return SpeechSegment(segment.start, segment.end, noisy)
