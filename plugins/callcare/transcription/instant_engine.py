"""A speech-to-text engine that recognizes nothing, for orchestration benchmarks and fault tests.

With CALLCARE_STT_ENGINE=instant a call still goes through decoding and pause segmentation (so a
corrupt file still fails as it would), but no speech is recognized: each turn says so in its text.
It lets a burst of hundreds of calls measure Airflow's own overhead on a 2-core machine.
"""

from __future__ import annotations

from callcare.core.transcript import Transcript, Turn
from callcare.transcription.audio import DecodedAudio
from callcare.transcription.segmentation import speech_segments

NOT_RECOGNIZED = "[not transcribed: instant engine]"


class InstantEngine:
    name = "instant"

    def transcribe(self, call_id: str, audio: DecodedAudio) -> Transcript:
        turns: list[Turn] = []
        for channel in range(audio.channels):
            speaker = f"ch_{channel}" if audio.channels == 2 else "spk_0"
            for segment in speech_segments(audio.samples[channel], audio.sample_rate):
                turns.append(Turn(speaker, segment.start, segment.end, NOT_RECOGNIZED))
        turns.sort(key=lambda t: (t.start, t.end))
        return Transcript(
            call_id=call_id,
            engine=self.name,
            duration_s=round(audio.duration_s, 3),
            channels=audio.channels,
            turns=turns,
        )
