"""The real Mandarin model on the recorded development set (installed on first use)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from app.asr import model
from app.asr.audio import read_wav
from app.asr.evaluate import LabelsError, evaluate, read_labels
from app.asr.grammars import ENTITY, INTENT
from app.asr.recognizer import FREE, Recognizer, RecognizerPool, grammar_json, pool_for
from app.asr.understand import Understander
from app.asr.vocab import load_vocabulary
from app.cli import main
from tests.data import SPEECH

ASR_DEV = SPEECH


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return model.install()


@pytest.fixture(scope="session")
def understander(model_dir: Path) -> Iterator[Understander]:
    yield Understander(pool_for(model_dir, warm=2, warmup_seconds=1.0))


def pcm(name: str) -> bytes:
    return read_wav(ASR_DEV / "pcm8k" / name).pcm


def test_vocabulary_comes_from_the_model(model_dir: Path) -> None:
    vocab = load_vocabulary(model_dir)
    assert len(vocab.words) > 90_000
    assert {"人工", "退票", "改签", "幺"} <= vocab.words
    assert vocab.segment("我要退票") == ["我", "要", "退票"]
    assert vocab.segment("G101") is None


def test_grammar_keeps_chinese_readable_and_drops_unknown_words(model_dir: Path) -> None:
    phrases = json.loads(grammar_json(["我要退票", "转人工", "ABC"], load_vocabulary(model_dir)))
    # Vosk does not decode \\u escapes: a phrase must reach it as UTF-8 text.
    assert phrases == ["我 要 退票", "转 人工", "[unk]"]


def test_pool_reuses_and_bounds_recognisers(model_dir: Path) -> None:
    pool = RecognizerPool(model.load_model(model_dir), {FREE: None}, warm=1, max_per_mode=1,
                          warmup_seconds=0)
    first = pool.acquire(FREE)
    with pytest.raises(TimeoutError):
        pool.acquire(FREE, timeout=0.05)
    pool.release(first)
    assert pool.acquire(FREE) is first
    with pytest.raises(KeyError, match="unknown recogniser mode"):
        pool.acquire("nonsense")


def test_live_callers_never_wait_for_a_recogniser_to_be_made(model_dir: Path) -> None:
    pool = RecognizerPool(model.load_model(model_dir), {FREE: None}, warm=1, max_per_mode=3,
                          warmup_seconds=0, keep_spare=1)
    try:
        first = pool.acquire(FREE, timeout=0, create=False)
        # Taking the last idle one asks the background thread for a spare.
        second = pool.acquire(FREE, timeout=30, create=False)
        third = pool.acquire(FREE, timeout=30, create=False)
        assert len({id(first), id(second), id(third)}) == 3
        with pytest.raises(TimeoutError):  # max_per_mode reached: no more are made
            pool.acquire(FREE, timeout=0.2, create=False)
        pool.release(second)
        assert pool.acquire(FREE, timeout=0, create=False) is second
    finally:
        pool.close()


def test_prefill_makes_recognisers_in_the_background(model_dir: Path) -> None:
    pool = RecognizerPool(model.load_model(model_dir), {FREE: None}, warm=0, max_per_mode=4,
                          warmup_seconds=0)
    try:
        pool.prefill(2)
        got = [pool.acquire(FREE, timeout=30, create=False) for _ in range(2)]
        assert len({id(r) for r in got}) == 2
        with pytest.raises(TimeoutError):  # no spares kept: nothing more is made
            pool.acquire(FREE, timeout=0.3, create=False)
    finally:
        pool.close()


def test_streaming_in_20ms_frames_equals_one_shot(model_dir: Path) -> None:
    rec = Recognizer(model.load_model(model_dir), max_alternatives=3)
    audio = pcm("031.wav")
    whole = rec.decode(audio)
    for i in range(0, len(audio), 320):  # AudioSocket delivers 320-byte frames
        rec.accept(audio[i:i + 320])
    streamed = rec.finish()
    assert streamed.text == whole.text == "我要投诉"
    assert streamed.audio_seconds == pytest.approx(whole.audio_seconds)
    assert [a.score for a in whole.alternatives] == sorted(
        (a.score for a in whole.alternatives), reverse=True)


def test_grammar_repairs_what_free_decoding_mishears(understander: Understander) -> None:
    # 找人工 comes out of free decoding as 找员工; the intent grammar hears 人工.
    found = understander.transcribe(pcm("045.wav"), [FREE, INTENT])
    assert "人工" in found[INTENT].text
    result = understander.understand(pcm("045.wav"), want_entities=False)
    assert result.intent == "agent"


def test_intent_accuracy_on_the_development_set(understander: Understander) -> None:
    report = evaluate(ASR_DEV / "labels.tsv", ASR_DEV / "pcm8k", understander, workers=2)
    assert report["n"] == 54
    assert report["accuracy"] >= 0.95, report["errors"]
    assert set(report["confusion"]) == {
        "ticket_query", "refund", "change", "train_status", "lost_item", "complaint",
        "assistance", "agent", "none"}
    assert report["rtf"] > 0  # the speed itself is a bench figure (bench/asr_live.py)
    assert set(report["rtf_per_mode"]) == {FREE, INTENT}


def test_pool_keeps_more_alternatives_for_number_shapes(model_dir: Path) -> None:
    pool = RecognizerPool(model.load_model(model_dir), {FREE: None, "expect:digits": None},
                          warm=1, max_alternatives={"expect:digits": 8}, warmup_seconds=0)
    assert pool.acquire(FREE).max_alternatives == 5
    assert pool.acquire("expect:digits").max_alternatives == 8


def test_mulaw_recordings_give_the_same_intents(understander: Understander) -> None:
    for name, intent in [("022.wav", "train_status"), ("027.wav", "lost_item"),
                         ("053.wav", "none")]:
        audio = read_wav(ASR_DEV / "ulaw8k" / name).pcm
        assert understander.understand(audio, want_entities=False).intent == intent


def test_entities_on_the_development_set(understander: Understander) -> None:
    # Decoded as in calls: each clip after the question for its kind (--expect label).
    report = evaluate(ASR_DEV / "entities" / "labels.tsv", ASR_DEV / "entities" / "pcm8k",
                      understander, workers=2, today=date(2025, 11, 23), expect="label")
    assert report["task"] == "entity"
    # Order numbers and digit strings are fully spoken and must come out right. (The train
    # recordings lack the letter's sound altogether: see test_train_letter_is_not_in_audio.)
    assert report["confusion"]["order_no"] == {"order_no": 2}
    assert report["confusion"]["digits"] == {"digits": 2}
    assert report["correct"] >= 4


def test_spoken_numbers_in_a_natural_voice(understander: Understander, tmp_path: Path) -> None:
    # Every fourth clip of numbers-voice/ (order numbers and ID/phone tails, 八/零/幺 and
    # repeated digits in every place, lead-ins, grouped, fast and slow), decoded as in calls.
    folder = ASR_DEV / "numbers-voice"
    header, *rows = (folder / "labels.tsv").read_text(encoding="utf-8").splitlines()
    labels = tmp_path / "labels.tsv"
    labels.write_text("\n".join([header, *rows[::4]]) + "\n", encoding="utf-8")
    report = evaluate(labels, folder / "pcm8k", understander, workers=2, expect="label")
    assert report["n"] == 60
    assert report["accuracy"] >= 0.9, report["errors"]


def test_train_letter_is_not_in_audio(understander: Understander) -> None:
    result = understander.understand(read_wav(ASR_DEV / "entities/pcm8k/003.wav").pcm,
                                     want_intent=False)
    assert [(e.kind, e.value) for e in result.entities] == [("train_no", "101")]
    # With the railway's train list the number is completed.
    with_trains = Understander(understander.pool, known_trains=["G101", "D302", "K1234"])
    result = with_trains.understand(read_wav(ASR_DEV / "entities/pcm8k/003.wav").pcm,
                                    want_intent=False)
    assert [(e.kind, e.value) for e in result.entities] == [("train_no", "G101")]


def test_cli_classify_prints_one_json_object(model_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["asr", "classify", str(ASR_DEV / "entities/ulaw8k/001.wav")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"intent", "confidence", "transcript", "entities"}
    assert out["intent"] == "ticket_query" and 0 <= out["confidence"] <= 1
    assert {"kind": "order_no", "value": "E123456789"} in out["entities"]


def test_cli_eval_and_its_errors(model_dir: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    labels = tmp_path / "labels.tsv"
    labels.write_text("file\tintent\ttext\n007.wav\trefund\t我想退票\n049.wav\tnone\t天气\n")
    assert main(["asr", "eval", str(labels), str(ASR_DEV / "pcm8k"), "--workers", "1",
                 "--warmup", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == 1.0 and report["n"] == 2
    assert report["confusion"] == {"refund": {"refund": 1}, "none": {"none": 1}}

    assert main(["asr", "eval", str(labels), str(tmp_path)]) == 2
    assert "not in" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("name\tlabel\n")
    with pytest.raises(LabelsError, match="neither"):
        read_labels(bad)


def test_entity_grammar_is_built(understander: Understander) -> None:
    assert ENTITY in understander.pool.modes
    text = understander.transcribe(pcm("007.wav"), [ENTITY])[ENTITY].text
    assert isinstance(text, str)


def test_an_utterance_split_by_a_pause_is_joined(model_dir: Path) -> None:
    rec = Recognizer(model.load_model(model_dir), max_alternatives=3)
    pause = bytes(2 * 8000 * 2)  # two seconds of silence: Vosk ends a segment there
    transcript = rec.decode(pcm("031.wav") + pause + pcm("007.wav"))
    assert transcript.text == "我要投诉我想退票"
    assert transcript.audio_seconds == pytest.approx(2 + 1.04 + 0.94, abs=0.05)
