"""GRU encoder-decoders with and without Bahdanau attention.

Both models share every part but one. The encoder reads the source into a
sequence of states. The decoder generates one token at a time, and at each step
it gets a *context* vector:

- without attention, the context is the encoder's final state, the same at
  every step (the fixed-size bottleneck of Cho et al. / Sutskever et al., 2014);
- with attention, the context is a weighted sum of *all* encoder states,
  recomputed at every step from the decoder's current state (Bahdanau et al., 2014).

Shapes, besides the package's legend (``B`` batch, ``S`` source length, ``T``
target length): ``E`` is the size of the token embeddings (``embed_dim``),
``Dh`` the size of every GRU state (``hidden_dim``) and ``V`` the number of
token ids (``vocab_size``). ``H`` stays reserved for heads; there are none here.

Every tensor the models create (the BOS tokens of :meth:`Seq2Seq.generate`)
goes on the device of the model's input, so the models also run on the
``meta`` device, where only shapes are computed.
"""

import torch
from torch import nn

from attention_notes.additive import AdditiveAttention
from attention_notes.checks import check_bool, check_positive_int, check_same_device, check_size, has_values

__all__ = ["Decoder", "Encoder", "Seq2Seq"]


def _check_tokens(name: str, tokens: object, vocab_size: int) -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids (B, L), got {type(tokens).__name__}")
    if tokens.dim() != 2 or 0 in tokens.shape:
        raise ValueError(f"{name} must be (B, L) token ids with B, L >= 1, got {tuple(tokens.shape)}")
    if tokens.dtype != torch.long:
        raise TypeError(f"{name} must have dtype torch.long (token ids), got {tokens.dtype}")
    if has_values(tokens) and (tokens.min() < 0 or tokens.max() >= vocab_size):
        raise ValueError(f"{name} must hold ids in [0, {vocab_size - 1}], got {tokens.min()}..{tokens.max()}")
    return tokens


def _check_sizes(vocab_size: object, embed_dim: object, hidden_dim: object) -> None:
    for name, value in (("vocab_size", vocab_size), ("embed_dim", embed_dim), ("hidden_dim", hidden_dim)):
        check_positive_int(name, value)


class Encoder(nn.Module):
    """Embedding + bidirectional GRU: token ids (B, S) -> states (B, S, Dh), final state (B, Dh).

    As in Bahdanau et al., each state ``h_j`` joins a forward GRU (tokens up
    to ``j``) and a backward GRU (tokens from ``j`` on), ``Dh/2`` numbers each,
    so it describes token ``j`` in the context of the whole sentence. The
    final state joins the last state of each direction: the one summary of
    the entire input that a decoder without attention gets.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_dim, hidden_dim)
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even (two directions of hidden_dim / 2), got {hidden_dim}")
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B, S) -> all states (B, S, Dh) and the final state (B, Dh)."""
        states, final = self.gru(self.embedding(src))  # (B, S, Dh), (2, B, Dh/2)
        return states, torch.cat([final[0], final[1]], dim=-1)  # (B, S, Dh), (B, Dh)


class Decoder(nn.Module):
    """One GRU step per output token, fed the previous token and a context vector."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, attention: bool) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_dim, hidden_dim)
        # A string such as "no" is truthy: without this check it would turn attention on.
        check_bool("attention", attention)
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.attention = AdditiveAttention(hidden_dim, hidden_dim, hidden_dim) if attention else None
        self.cell = nn.GRUCell(embed_dim + hidden_dim, hidden_dim)
        self.out = nn.Linear(2 * hidden_dim, vocab_size)

    def project_keys(self, enc_states: torch.Tensor) -> torch.Tensor | None:
        """``W_key`` applied once to all encoder states: (B, S, Dh) -> (B, S, Dh), or None."""
        return None if self.attention is None else self.attention.W_key(enc_states)

    def step(
        self,
        token: torch.Tensor,
        hidden: torch.Tensor,
        enc_states: torch.Tensor,
        enc_final: torch.Tensor,
        projected_keys: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One step: (B,) previous tokens, (B, Dh) state -> (B, V) logits, (B, Dh) state, (B, S) weights.

        ``projected_keys`` is ``attention.W_key(enc_states)``, from :meth:`project_keys`.
        """
        if self.attention is not None:
            # The query is the decoder state *before* this step, s_{i-1} in the paper.
            context, attn_weights = self.attention.attend_projected(
                hidden, projected_keys, enc_states
            )  # (B, Dh), (B, S)
        else:
            context, attn_weights = enc_final, None  # (B, Dh): the same at every step
        x = torch.cat([self.embedding(token), context], dim=-1)  # (B, E + Dh)
        hidden = self.cell(x, hidden)  # (B, Dh)
        logits = self.out(torch.cat([hidden, context], dim=-1))  # (B, 2 Dh) -> (B, V)
        return logits, hidden, attn_weights


class Seq2Seq(nn.Module):
    """Encoder-decoder for token sequences, with or without Bahdanau attention.

    Args:
        vocab_size: number ``V`` of token ids, shared by source and target.
        embed_dim: size ``E`` of the token embeddings.
        hidden_dim: size ``Dh`` of every GRU state; even, for the two directions of the encoder.
        attention: whether the decoder attends over all encoder states.
        bos_id: the token id that starts every decoder input, in ``[0, vocab_size)``.
    """

    def __init__(
        self, vocab_size: int, embed_dim: int, hidden_dim: int, attention: bool, bos_id: int = 0
    ) -> None:
        super().__init__()
        _check_sizes(vocab_size, embed_dim, hidden_dim)
        check_bool("attention", attention)
        if isinstance(bos_id, bool) or not isinstance(bos_id, int):
            raise TypeError(f"bos_id must be an int token id, got {type(bos_id).__name__} {bos_id!r}")
        if not 0 <= bos_id < vocab_size:
            raise ValueError(
                f"bos_id must be a token id in [0, {vocab_size - 1}] "
                f"(vocab_size = {vocab_size}), got {bos_id}"
            )
        self.vocab_size = vocab_size
        self.bos_id = bos_id
        self.encoder = Encoder(vocab_size, embed_dim, hidden_dim)
        self.decoder = Decoder(vocab_size, embed_dim, hidden_dim, attention)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: (B, S) source, (B, T) decoder inputs -> (B, T, V) logits, (B, T, S) weights."""
        src = _check_tokens("src", src, self.vocab_size)
        tgt_in = _check_tokens("tgt_in", tgt_in, self.vocab_size)
        check_size("tgt_in", tgt_in.shape[0], src.shape[0], "batch size B = src.shape[0] =")
        check_same_device(("src", src), ("tgt_in", tgt_in), self._parameters_named())
        enc_states, hidden = self.encoder(src)
        enc_final, keys = hidden, self.decoder.project_keys(enc_states)
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, hidden, w = self.decoder.step(tgt_in[:, t], hidden, enc_states, enc_final, keys)
            logits.append(step_logits)
            weights.append(w)
        return torch.stack(logits, dim=1), self._stack(weights)  # (B, T, V), (B, T, S)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Greedy decoding, each step fed the model's own previous output.

        Returns (B, steps) token ids and, with attention, (B, steps, S) weights.
        """
        src = _check_tokens("src", src, self.vocab_size)
        check_positive_int("steps", steps)
        check_same_device(("src", src), self._parameters_named())
        enc_states, hidden = self.encoder(src)
        enc_final, keys = hidden, self.decoder.project_keys(enc_states)
        token = torch.full((src.shape[0],), self.bos_id, dtype=torch.long, device=src.device)  # (B,)
        tokens, weights = [], []
        for _ in range(steps):
            logits, hidden, w = self.decoder.step(token, hidden, enc_states, enc_final, keys)
            token = logits.argmax(dim=-1)  # (B,)
            tokens.append(token)
            weights.append(w)
        return torch.stack(tokens, dim=1), self._stack(weights)

    def _parameters_named(self) -> tuple[str, torch.Tensor]:
        return ("the model's parameters", self.decoder.out.weight)

    @staticmethod
    def _stack(weights: list[torch.Tensor | None]) -> torch.Tensor | None:
        return None if weights[0] is None else torch.stack(weights, dim=1)
