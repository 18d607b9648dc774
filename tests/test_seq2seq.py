"""GRU encoder-decoders with and without attention."""

import inspect
import re

import pytest
import torch
from torch import nn

from attention_notes import Decoder, Encoder, Seq2Seq, additive, seq2seq
from attention_notes.experiment import ExperimentConfig, build_model, reverse_batch, train

# A warm run skips these tests while their inputs are unchanged since they passed (tests/unchanged.py).
pytestmark = pytest.mark.inputs("src/attention_notes")


def batch(B=4, L=6, seed=0):
    return reverse_batch(B, L, 11, torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("attention", [False, True])
def test_shapes(attention):
    torch.manual_seed(0)
    model = Seq2Seq(11, 8, 16, attention)
    src, tgt_in, _ = batch(B=4, L=6)
    logits, weights = model(src, tgt_in[:, :5])
    assert logits.shape == (4, 5, 11)
    assert (weights is None) != attention
    if attention:
        assert weights.shape == (4, 5, 6)
        torch.testing.assert_close(weights.sum(-1), torch.ones(4, 5))
    tokens, gen_weights = model.generate(src, steps=3)
    assert tokens.shape == (4, 3) and tokens.dtype == torch.long
    if attention:
        assert isinstance(gen_weights, torch.Tensor) and gen_weights.shape == (4, 3, 6)
        assert (gen_weights >= 0).all()
        torch.testing.assert_close(gen_weights.sum(-1), torch.ones(4, 3))
    else:
        assert gen_weights is None


def test_final_hidden_state_has_the_same_size_for_any_length():
    torch.manual_seed(0)
    encoder = Encoder(11, 8, 16)
    for length in (2, 20, 200):
        states, final = encoder(torch.randint(1, 11, (1, length)))
        assert states.shape == (1, length, 16)
        assert final.shape == (1, 16)


def test_models_differ_only_in_the_attention_module():
    base = dict(build_model(ExperimentConfig(), attention=False).named_parameters())
    att = dict(build_model(ExperimentConfig(), attention=True).named_parameters())
    extra = set(att) - set(base)
    assert extra == {f"decoder.attention.{n}.weight" for n in ("W_query", "W_key", "w_v")}
    assert set(base) <= set(att)
    for name, p in base.items():
        assert p.shape == att[name].shape
        if name.startswith("encoder."):
            assert torch.equal(p, att[name]), name  # same seed, same encoder start


def test_attention_decoder_reads_every_encoder_state_and_baseline_only_the_last():
    src, tgt_in, _ = batch(B=2, L=8)
    changed = src.clone()
    changed[:, 0] = (changed[:, 0] % 10) + 1  # a different first token
    for attention in (False, True):
        torch.manual_seed(0)
        model = Seq2Seq(11, 8, 16, attention).eval()
        enc_states, final = model.encoder(src)
        # Swap every encoder state but the last: only attention can notice.
        fake_states = enc_states.clone()
        fake_states[:, :-1] = torch.randn_like(fake_states[:, :-1])
        keys = model.decoder.project_keys(enc_states)
        fake_keys = model.decoder.project_keys(fake_states)
        token = tgt_in[:, 0]
        logits, _, _ = model.decoder.step(token, final, enc_states, final, keys)
        fake_logits, _, _ = model.decoder.step(token, final, fake_states, final, fake_keys)
        assert torch.allclose(logits, fake_logits) != attention
        # and both depend on the source through the encoder
        assert not torch.allclose(model(src, tgt_in)[0], model(changed, tgt_in)[0])


@pytest.mark.parametrize("attention", [False, True])
def test_same_seed_same_result(attention):
    config = ExperimentConfig(steps=5, batch_size=8, max_length=6)
    results = []
    for _ in range(2):
        model = build_model(config, attention)
        losses = train(model, config)
        src, _, _ = batch()
        results.append((losses, model.generate(src, steps=6)[0]))
    assert results[0][0] == results[1][0]
    assert torch.equal(results[0][1], results[1][1])


@pytest.mark.parametrize("attention", [False, True])
def test_short_training_lowers_the_loss(attention):
    config = ExperimentConfig(steps=60, batch_size=32, min_length=3, max_length=5)
    model = build_model(config, attention)
    src, tgt_in, tgt = batch(B=256, L=4, seed=5)

    def loss():
        with torch.no_grad():
            logits, _ = model(src, tgt_in)
        return nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten()).item()

    before = loss()
    train(model, config)
    assert loss() < 0.8 * before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: m(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.long)),
            TypeError,
            r"src must have dtype torch\.long",
        ),
        (
            lambda m: m(torch.ones(3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long)),
            ValueError,
            r"src must be \(B, L\) token ids",
        ),
        (
            lambda m: m(torch.full((2, 3), 11), torch.ones(2, 3, dtype=torch.long)),
            ValueError,
            r"src must hold ids in \[0, 10\]",
        ),
        (
            lambda m: m(torch.ones(2, 3, dtype=torch.long), torch.ones(3, 3, dtype=torch.long)),
            ValueError,
            r"tgt_in must have batch size B = src.shape\[0\] = 2, got 3",
        ),
        (
            lambda m: m.generate(torch.ones(2, 3, dtype=torch.long), steps=0),
            ValueError,
            r"steps must be a positive int",
        ),
        (lambda m: m.generate([[1, 2]], steps=2), TypeError, r"src must be a torch\.Tensor"),
        (
            lambda m: m.generate(torch.ones(2, 3, dtype=torch.long), steps=2.0),
            TypeError,
            r"steps must be a positive int, got float 2\.0",
        ),
        (
            lambda m: m(
                torch.ones(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=torch.long, device="meta")
            ),
            ValueError,
            r"src, tgt_in and the model's parameters must be on the same device, got src on cpu, tgt_in on meta",
        ),
        (
            lambda m: m.generate(torch.ones(2, 3, dtype=torch.long, device="meta"), steps=2),
            ValueError,
            r"src and the model's parameters must be on the same device, got src on meta, "
            r"the model's parameters on cpu",
        ),
    ],
)
def test_bad_input_is_rejected_clearly(call, error, message):
    torch.manual_seed(0)
    with pytest.raises(error, match=message):
        call(Seq2Seq(11, 8, 16, attention=True))


GOOD = {"vocab_size": 11, "embed_dim": 8, "hidden_dim": 16}
BAD_SIZES = [
    (0, ValueError, r"must be a positive int, got 0"),
    (-4, ValueError, r"must be a positive int, got -4"),
    (8.0, TypeError, r"must be a positive int, got float 8\.0"),
    (True, TypeError, r"must be a positive int, got bool True"),
    ("8", TypeError, r"must be a positive int, got str '8'"),
]


def build(cls, **changes):
    args = {**GOOD, **changes}
    return Encoder(**args) if cls is Encoder else cls(**args, attention=True)


@pytest.mark.parametrize("cls", [Seq2Seq, Encoder, Decoder])
@pytest.mark.parametrize("name", list(GOOD))
@pytest.mark.parametrize(("value", "error", "message"), BAD_SIZES)
def test_bad_sizes_are_rejected(cls, name, value, error, message):
    with pytest.raises(error, match=rf"{name} {message}"):
        build(cls, **{name: value})


@pytest.mark.parametrize("cls", [Seq2Seq, Decoder])
@pytest.mark.parametrize("value", ["no", 1, 0, None])
def test_attention_must_be_a_bool(cls, value):
    # attention="no" is truthy: it used to turn attention on.
    with pytest.raises(
        TypeError, match=rf"attention must be a bool \(True or False\), got {type(value).__name__}"
    ):
        cls(11, 8, 16, attention=value)


@pytest.mark.parametrize(
    ("bos_id", "error", "message"),
    [
        # bos_id = vocab_size used to be accepted, and generate failed with an IndexError.
        (11, ValueError, r"bos_id must be a token id in \[0, 10\] \(vocab_size = 11\), got 11"),
        (-1, ValueError, r"bos_id must be a token id in \[0, 10\] \(vocab_size = 11\), got -1"),
        (1.0, TypeError, r"bos_id must be an int token id, got float 1\.0"),
        (True, TypeError, r"bos_id must be an int token id, got bool True"),
    ],
)
def test_bos_id_must_be_a_token_id(bos_id, error, message):
    with pytest.raises(error, match=message):
        Seq2Seq(11, 8, 16, attention=True, bos_id=bos_id)


def test_odd_hidden_dim_is_rejected():
    with pytest.raises(ValueError, match=r"hidden_dim must be even"):
        Seq2Seq(11, 8, 15, attention=False)


@pytest.mark.parametrize("attention", [False, True])
def test_runs_on_the_meta_device(attention):
    # Every tensor the model creates (the BOS tokens) goes on its input's device;
    # the token checks skip values, which meta tensors do not have.
    model = Seq2Seq(11, 8, 16, attention, bos_id=10).to("meta")
    src = torch.empty(4, 6, dtype=torch.long, device="meta")
    logits, weights = model(src, torch.empty(4, 5, dtype=torch.long, device="meta"))
    tokens, gen_weights = model.generate(src, steps=3)
    assert logits.device.type == tokens.device.type == "meta"
    assert logits.shape == (4, 5, 11) and tokens.shape == (4, 3) and tokens.dtype == torch.long
    if attention:
        assert weights.device.type == gen_weights.device.type == "meta"
        assert weights.shape == (4, 5, 6) and gen_weights.shape == (4, 3, 6)
    else:
        assert weights is None and gen_weights is None


@pytest.mark.parametrize("module", [seq2seq, additive])
def test_h_means_heads_only(module):
    # The package's shape legend reserves H for heads; the hidden size is Dh.
    source = inspect.getsource(module)
    shapes_with_h = re.findall(r"\([^()\n]*\bH\b[^()\n]*\)|\bH\s*/\s*2", source)
    assert shapes_with_h == []
    assert "Dh" in source
