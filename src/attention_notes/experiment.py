"""The bottleneck experiment: reverse random token sequences of growing length.

Reversing is a task where the alignment is known (output position ``i`` needs
input position ``L - 1 - i``, an anti-diagonal), and where nothing can be
guessed from context: every source token must survive the trip through the
model. A GRU encoder-decoder without attention must carry all of them in one
final state; the same model with Bahdanau attention can look each one up when
it needs it. Both get the same data, the same number of steps and the same
initial encoder weights.

    python -m attention_notes.experiment --out results.json

writes ``{"lengths": [...], "baseline": [...], "attention": [...], "seconds": ...}``
plus the configuration and one alignment example. The run on our machine is
shipped with the package: :func:`load_results`.
"""

import argparse
import json
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from attention_notes.seq2seq import Seq2Seq

__all__ = [
    "BOS_ID",
    "ExperimentConfig",
    "evaluate",
    "load_results",
    "reverse_batch",
    "run",
    "train",
]

BOS_ID = 0  # starts every decoder input; source tokens are 1 .. vocab_size - 1


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that determines the result. The defaults are the published run."""

    seed: int = 0
    vocab_size: int = 11  # BOS + 10 symbols: chance accuracy is 0.1
    embed_dim: int = 32
    hidden_dim: int = 64
    batch_size: int = 64
    steps: int = 1000
    lr: float = 5e-3
    min_length: int = 3
    max_length: int = 20
    eval_lengths: tuple[int, ...] = (4, 8, 12, 16, 20)
    eval_size: int = 500
    example_length: int = 12
    # One thread: the matrices are tiny, so more threads barely help, and a
    # fixed thread count keeps the floating-point sums, and so the numbers,
    # the same on every machine.
    threads: int = 1
    models: tuple[str, ...] = ("baseline", "attention")


def reverse_batch(
    batch_size: int, length: int, vocab_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random source sequences and their reversals.

    Returns ``(src, tgt_in, tgt)``, each (B, L) token ids: ``tgt`` is ``src``
    reversed and ``tgt_in`` is ``tgt`` shifted right behind a BOS token
    (the decoder's input under teacher forcing).
    """
    src = torch.randint(1, vocab_size, (batch_size, length), generator=generator)  # (B, L)
    tgt = src.flip(1)  # (B, L)
    bos = torch.full((batch_size, 1), BOS_ID)
    tgt_in = torch.cat([bos, tgt[:, :-1]], dim=1)  # (B, L)
    return src, tgt_in, tgt


def build_model(config: ExperimentConfig, attention: bool) -> Seq2Seq:
    """A model with initial weights fixed by ``config.seed`` (the encoder is the same for both)."""
    torch.manual_seed(config.seed)
    return Seq2Seq(config.vocab_size, config.embed_dim, config.hidden_dim, attention, BOS_ID)


def train(model: Seq2Seq, config: ExperimentConfig) -> list[float]:
    """Train with Adam under teacher forcing; return the loss of every step.

    Each batch has one length drawn from [min_length, max_length]. The data
    stream depends only on ``config.seed``, so two models see the same batches.
    """
    generator = torch.Generator().manual_seed(config.seed + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = []
    model.train()
    for _ in range(config.steps):
        length = int(torch.randint(config.min_length, config.max_length + 1, (1,), generator=generator))
        src, tgt_in, tgt = reverse_batch(config.batch_size, length, config.vocab_size, generator)
        logits, _ = model(src, tgt_in)  # (B, L, V)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def evaluate(model: Seq2Seq, config: ExperimentConfig) -> list[float]:
    """Token accuracy of greedy decoding (no teacher forcing), one value per eval length."""
    generator = torch.Generator().manual_seed(config.seed + 2)
    model.eval()
    accuracies = []
    for length in config.eval_lengths:
        src, _, tgt = reverse_batch(config.eval_size, length, config.vocab_size, generator)
        predicted, _ = model.generate(src, steps=length)  # (N, L)
        accuracies.append(round((predicted == tgt).float().mean().item(), 4))
    return accuracies


def alignment_example(model: Seq2Seq, config: ExperimentConfig) -> dict:
    """The attention weights of one decoded example, for the heatmap."""
    generator = torch.Generator().manual_seed(config.seed + 3)
    src, _, tgt = reverse_batch(1, config.example_length, config.vocab_size, generator)
    predicted, attn_weights = model.generate(src, steps=config.example_length)  # (1, L), (1, L, L)
    return {
        "source": src[0].tolist(),
        "target": tgt[0].tolist(),
        "predicted": predicted[0].tolist(),
        "weights": [[round(w, 4) for w in row] for row in attn_weights[0].tolist()],
    }


def run(config: ExperimentConfig | None = None) -> dict:
    """Train and evaluate both models; return the results as a JSON-ready dict."""
    config = config or ExperimentConfig()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        start = time.perf_counter()
        results: dict = {"lengths": list(config.eval_lengths)}
        final_loss = {}
        for name in config.models:
            model = build_model(config, attention=name == "attention")
            losses = train(model, config)
            results[name] = evaluate(model, config)
            final_loss[name] = round(sum(losses[-50:]) / len(losses[-50:]), 4)
            if name == "attention":
                results["example"] = alignment_example(model, config)
        results["seconds"] = round(time.perf_counter() - start, 1)
    finally:
        torch.set_num_threads(threads)
    results["final_loss"] = final_loss
    results["config"] = asdict(config)
    results["versions"] = {"torch": torch.__version__}
    return results


def load_results() -> dict:
    """The published run (``python -m attention_notes.experiment`` with the defaults)."""
    text = resources.files("attention_notes").joinpath("results/experiment.json").read_text()
    return json.loads(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON results")
    parser.add_argument("--steps", type=int, default=ExperimentConfig.steps, help="training steps per model")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    results = run(ExperimentConfig(steps=args.steps))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    rows = zip(results["lengths"], results["baseline"], results["attention"], strict=True)
    print("length  baseline  attention")
    for length, base, att in rows:
        print(f"{length:>6}  {base:>8.3f}  {att:>9.3f}")
    print(f"trained and evaluated both models in {results['seconds']} s")


if __name__ == "__main__":
    main()
