"""GRU encoder-decoders with and without attention."""

import pytest
import torch
from torch import nn

from attention_notes import Encoder, Seq2Seq
from attention_notes.experiment import ExperimentConfig, build_model, reverse_batch, train


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
    assert gen_weights is None or gen_weights.shape == (4, 3, 6)


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
    ],
)
def test_bad_input_is_rejected_clearly(call, error, message):
    torch.manual_seed(0)
    with pytest.raises(error, match=message):
        call(Seq2Seq(11, 8, 16, attention=True))
