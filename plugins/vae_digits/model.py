"""The convolutional VAE, its loss (the negative ELBO, in nats) and its held-out evaluation.

Imported only from `load`, `run` and the training code: this module imports torch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - the usual name

SIDE = 28
HIDDEN = 256
EVAL_SAMPLES = 8  # latent samples per held-out digit for the ELBO's reconstruction term
EVAL_SEED = 0


class ConvVAE(nn.Module):
    """Encoder q(z|x) = N(mu, diag(exp(logvar))) and Bernoulli decoder p(x|z) over 28x28 digits."""

    def __init__(self, z_dim: int) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1),  # 28 -> 14
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1),  # 14 -> 7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, 2 * z_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(z_dim, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, 64 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1),  # 7 -> 14
            nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, 2, 1),  # 14 -> 28
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, 1, 28, 28] in [0, 1] -> (mu, logvar), each [N, z_dim]."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, z_dim] -> Bernoulli logits [N, 1, 28, 28] (sigmoid gives the pixel means)."""
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One reparameterised sample z = mu + sigma * eps; returns (logits, mu, logvar)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mu, logvar


def recon_nats(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) per digit: binary cross-entropy summed over the 784 pixels."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.flatten(1).sum(dim=1)


def kl_nats(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per digit, in closed form."""
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


def loss(
    model: ConvVAE, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(objective, recon, kl): batch means in nats; objective = recon + beta * kl.

    With beta = 1 the objective is the negative ELBO estimated with one latent sample.
    """
    logits, mu, logvar = model(x, generator)
    recon = recon_nats(logits, x).mean()
    kl = kl_nats(mu, logvar).mean()
    return recon + beta * kl, recon, kl


@torch.inference_mode()
def evaluate(
    model: ConvVAE,
    x: torch.Tensor,
    samples: int = EVAL_SAMPLES,
    seed: int = EVAL_SEED,
    batch: int = 500,
) -> dict[str, float]:
    """The ELBO on `x`, averaged over digits: {"recon", "kl", "elbo_neg"} in nats.

    The reconstruction term E_q[-log p(x|z)] is a Monte Carlo mean over `samples` draws of z
    per digit (drawn from a generator seeded with `seed`, so the figure is repeatable); the
    KL term is exact. This is the real ELBO (beta = 1), whatever beta the model trained with.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=x.device).manual_seed(seed)
    recon_sum = kl_sum = 0.0
    for start in range(0, len(x), batch):
        chunk = x[start : start + batch]
        mu, logvar = model.encode(chunk)
        std = torch.exp(0.5 * logvar)
        per_digit = torch.zeros(len(chunk), device=x.device)
        for _ in range(samples):
            eps = torch.randn(mu.shape, generator=generator, device=x.device, dtype=mu.dtype)
            per_digit += recon_nats(model.decode(mu + std * eps), chunk)
        recon_sum += float(per_digit.sum()) / samples
        kl_sum += float(kl_nats(mu, logvar).sum())
    model.train(was_training)
    n = len(x)
    return {"recon": recon_sum / n, "kl": kl_sum / n, "elbo_neg": (recon_sum + kl_sum) / n}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
