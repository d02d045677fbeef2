"""Fast checks that a broken loss, clustering or parameter choice cannot pass unnoticed (issue 26).

Each test pins one behaviour of the methods against a formula written out here by hand, or an invariant,
on tiny tensors and a `smallcnn`, in seconds. They were written against ten deliberate mutations of the
code that the rest of the fast lane let through or that are easy to make (docs/architecture.md, "Checking
that the tests catch a broken loss", lists them and says how to repeat the check):

1. SHOT's IM term added with the wrong sign (`methods/shot.py`)              test_shot_loss_is_*
2. SHOT's clustering stopping after its soft round                            test_shot_clustering_*
3. the classifier head training during adaptation                             test_head_*
4. TR labels reaching a method that does not declare `uses_labels`            test_tr_labels_*
5. TENT training every parameter, not only BatchNorm's scale and shift        test_tent_*
6. the vq translator's codebook/commitment loss left out of the bridge's loss test_vq_*
7. TGKT's L_KL computed in the reverse direction, KL(student || teacher)      test_tgkt_loss_is_*
8. SOCKET's L_TI squared (or averaged) instead of the plain Frobenius norm    test_socket_loss_is_*, test_tgkt_*
9. SOCKET's L_BN without its x10 weight on the first BatchNorm layer          test_socket_loss_is_*, test_tgkt_*
10. SOCKET's pseudo-labels from the cosine distance instead of Euclidean      test_socket_clustering_*
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from xmt.data.batches import NativeImages
from xmt.data.encoding import EncodingRecipe
from xmt.engine.loop import Trainer
from xmt.losses import information_maximization
from xmt.methods.adapt import Adaptation, AdaptConfig, AdaptData, Batch, Objective, Snapshot, adapt, make_pseudo_labels
from xmt.methods.shot import ShotObjective
from xmt.methods.socket import SocketObjective
from xmt.methods.tent import TentObjective
from xmt.methods.tgkt import TgktObjective
from xmt.methods.tgmb import Bridge, BridgeConfig, BridgeData
from xmt.models.classifier import Classifier
from xmt.pseudo_labels import PseudoLabels, shot_pseudo_labels
from xmt.stages.transfer import METHODS

CPU = torch.device("cpu")
K = 3  # classes of the tiny models
SIZE = 16  # image size of the in-memory data


def tiny_model(seed: int = 0) -> Classifier:
    torch.manual_seed(seed)
    return Classifier("smallcnn", K, bottleneck_dim=16, backbone_args={"width": 4})


def depth_images(count: int, seed: int = 0, size: int = SIZE) -> NativeImages:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 10_000, (count, 1, size, size), generator=g, dtype=torch.int32).to(torch.uint16)
    return NativeImages(images, torch.full((count,), -1, dtype=torch.int64), [f"d{i}.png" for i in range(count)])


def adapt_data(count: int = 8) -> AdaptData:
    return AdaptData(tr=depth_images(count), recipe=EncodingRecipe.for_modality("depth", size=SIZE))


def one_step() -> AdaptConfig:
    # 8 TR images, batch 8, one epoch: one optimiser step
    return AdaptConfig(epochs=1, batch_size=8, augment=False)


class FixedLogits(nn.Module):
    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, x):
        return self.logits, None


# ---- hand-written formulas, in float64 ------------------------------------------------------------------


def entropy64(p: list[float]) -> float:
    return -sum(q * math.log(q + 1e-5) for q in p if q > 0)


def softmax64(row: list[float]) -> list[float]:
    top = max(row)
    e = [math.exp(v - top) for v in row]
    return [v / sum(e) for v in e]


def im64(logits: torch.Tensor) -> float:
    """SHOT's IM by hand: mean_j H(p_j) - H(mean_j p_j), eps 1e-5 inside the log."""
    probs = [softmax64(row) for row in logits.double().tolist()]
    mean = [sum(col) / len(probs) for col in zip(*probs)]
    return sum(entropy64(p) for p in probs) / len(probs) - entropy64(mean)


def ce64(logits: torch.Tensor, labels: list[int]) -> float:
    """Cross-entropy by hand over the labels that are not -1."""
    kept = [(row, y) for row, y in zip(logits.double().tolist(), labels) if y != -1]
    return sum(-math.log(softmax64(row)[y]) for row, y in kept) / max(1, len(kept))


def kl64(teacher: torch.Tensor, logits: torch.Tensor) -> float:
    """KL(teacher || student) by hand, batch mean, temperature 1."""
    total = 0.0
    for p, row in zip(teacher.double().tolist(), logits.double().tolist()):
        q = softmax64(row)
        total += sum(a * (math.log(a) - math.log(b)) for a, b in zip(p, q) if a > 0)
    return total / len(teacher)


def norm64(t: torch.Tensor) -> float:
    return math.sqrt(sum(v * v for v in t.double().flatten().tolist()))


class Recorder:
    """Forward hooks that keep what the formulas need: each model call's outputs and each BatchNorm2d's input
    statistics (per channel mean and biased variance, by hand), in call order."""

    def __init__(self, model: Classifier):
        self.outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.bn: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.handles = [model.register_forward_hook(lambda m, i, out: self.outputs.append(
            tuple(o.detach().double() for o in out)))]
        for layer in model.backbone.modules():
            if isinstance(layer, nn.BatchNorm2d):
                self.handles.append(layer.register_forward_pre_hook(self._bn))

    def _bn(self, module, inputs):
        x = inputs[0].detach().double().transpose(0, 1).flatten(1)  # (C, N*H*W)
        mean = x.mean(1)
        self.bn.append((mean, ((x - mean[:, None]) ** 2).mean(1)))

    def bn_loss(self, source: Classifier, first_call_layers: int) -> float:
        """SOCKET's L_BN by hand: sum_l m_l (|mu_l - mu_s,l| + |var_l - var_s,l|), m_1 = 10, m_l = 1 after."""
        layers = [m for m in source.backbone.modules() if isinstance(m, nn.BatchNorm2d)]
        total = 0.0
        for l, ((mean, var), layer) in enumerate(zip(self.bn[:first_call_layers], layers)):
            weight = 10.0 if l == 0 else 1.0
            total += weight * (norm64(mean - layer.running_mean.double()) + norm64(var - layer.running_var.double()))
        return total

    def close(self):
        for h in self.handles:
            h.remove()


def source_with_statistics() -> Classifier:
    """A frozen source model whose BatchNorm running statistics are not the initial 0 / 1."""
    source = tiny_model(1)
    g = torch.Generator().manual_seed(5)
    for layer in source.modules():
        if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            layer.running_mean.copy_(torch.randn(layer.running_mean.shape, generator=g) * 0.1)
            layer.running_var.copy_(torch.rand(layer.running_var.shape, generator=g) + 0.5)
    return source.eval()


# ---- 1. SHOT's loss and its IM term -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_shot_loss_is_its_pseudo_label_ce_plus_im_by_hand(dtype):
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 1.5, 0.2], [1.0, 1.0, 3.0], [0.3, -0.2, 0.0]], dtype=dtype)
    labels = [0, 1, 2, 0]
    expected_im = im64(logits)
    # IM is minus a mutual information: it lies in [-log K, 0] and is negative for these confident, spread rows
    assert -math.log(K) <= expected_im < 0
    for im in (information_maximization(logits), information_maximization(logits.float())):
        assert im.item() == pytest.approx(expected_im, rel=1e-5, abs=1e-6)

    batch = Batch(x=torch.zeros(4), index=torch.arange(4),
                  pseudo=PseudoLabels(torch.tensor(labels), torch.ones(4)))
    loss, terms = ShotObjective().loss(FixedLogits(logits), batch)
    assert terms["im"].item() == pytest.approx(expected_im, rel=1e-5, abs=1e-6)
    assert terms["pl"].item() == pytest.approx(ce64(logits, labels), rel=1e-5)
    assert loss.item() == pytest.approx(0.3 * ce64(logits, labels) + 1.0 * expected_im, rel=1e-5, abs=1e-6)


def test_shot_im_gradient_makes_predictions_confident_and_balanced():
    # one gradient step on SHOT's loss (IM only) from soft, one-sided predictions: the mean entropy falls and the
    # marginal entropy rises, whatever sign convention a refactoring writes the loss in
    logits = torch.tensor([[1.0, 0.6, 0.0], [0.9, 0.7, 0.1], [1.1, 0.2, 0.5], [0.8, 0.4, 0.3]], requires_grad=True)
    batch = Batch(x=torch.zeros(4), index=torch.arange(4), pseudo=PseudoLabels(torch.full((4,), -1), torch.ones(4)))
    loss, _ = ShotObjective(beta_pl=0.0).loss(FixedLogits(logits), batch)
    loss.backward()
    stepped = (logits - 0.5 * logits.grad).detach()
    before, after = im64(logits.detach()), im64(stepped)
    assert after < before


# ---- 2 and 10. SHOT's two clustering rounds, SOCKET's one Euclidean round ----------------------------------

# Six samples, two classes: the soft round alone labels [0, 0, 1, 0, 1, 0], the hard round moves sample 4 to
# class 0 ([0, 0, 1, 0, 0, 0], a fixed point: a third round keeps it). SOCKET's Euclidean soft round gives
# [1, 0, 1, 0, 1, 0] where the cosine distance would give [0, 0, 1, 0, 1, 0].
FEATURES = torch.tensor([[-1, 9], [0, 8], [-8, -4], [2, 8], [-2, 9], [5, 9]], dtype=torch.float64) / 3
P0 = [0.1, 0.6, 0.6, 0.9, 0.6, 0.8]
PROBS = torch.tensor([[p, 1 - p] for p in P0], dtype=torch.float64)


def cluster_by_hand(features: torch.Tensor, probs: torch.Tensor, rounds: int, distance: str, filtered: bool):
    """SHOT's clustering as plain loops: z = [f, 1] / |[f, 1]|; soft centroids weighted by p, then hard ones."""
    z = []
    for row in features.tolist():
        v = [*row, 1.0]
        n = math.sqrt(sum(a * a for a in v))
        z.append([a / n for a in v])
    weights = probs.tolist()
    k = len(weights[0])
    labels = [max(range(k), key=lambda c: w[c]) for w in weights]
    for _ in range(rounds):
        centroids = []
        for c in range(k):
            total = sum(w[c] for w in weights)
            centroids.append([sum(w[c] * zj[d] for w, zj in zip(weights, z)) / (total + 1e-8) for d in range(len(z[0]))])
        allowed = [labels.count(c) > 0 or not filtered for c in range(k)]

        def dist(zj, c):
            if distance == "euclidean":
                return math.sqrt(sum((a - b) ** 2 for a, b in zip(zj, c)))
            return 1 - sum(a * b for a, b in zip(zj, c)) / math.sqrt(sum(b * b for b in c))

        labels = [min((c for c in range(k) if allowed[c]), key=lambda c: dist(zj, centroids[c])) for zj in z]
        weights = [[1.0 if c == y else 0.0 for c in range(k)] for y in labels]
    return labels


def test_the_example_tells_one_round_from_two_and_euclidean_from_cosine():
    assert cluster_by_hand(FEATURES, PROBS, 1, "cosine", True) == [0, 0, 1, 0, 1, 0]
    assert cluster_by_hand(FEATURES, PROBS, 2, "cosine", True) == [0, 0, 1, 0, 0, 0]
    assert cluster_by_hand(FEATURES, PROBS, 3, "cosine", True) == [0, 0, 1, 0, 0, 0]
    assert cluster_by_hand(FEATURES, PROBS, 1, "euclidean", False) == [1, 0, 1, 0, 1, 0]
    assert cluster_by_hand(FEATURES, PROBS, 1, "cosine", False) == [0, 0, 1, 0, 1, 0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_shot_clustering_is_two_rounds_as_every_method_gets_it(dtype):
    expected = cluster_by_hand(FEATURES, PROBS, 2, "cosine", True)
    features, probs = FEATURES.to(dtype), PROBS.to(dtype)
    assert shot_pseudo_labels(features, probs).labels.tolist() == expected  # the default
    assert make_pseudo_labels("shot", Snapshot(probs, features)).labels.tolist() == expected  # what SHOT/TGKT train on


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_socket_clustering_is_one_euclidean_round_as_every_method_gets_it(dtype):
    expected = cluster_by_hand(FEATURES, PROBS, 1, "euclidean", False)
    features, probs = FEATURES.to(dtype), PROBS.to(dtype)
    assert make_pseudo_labels("socket", Snapshot(probs, features)).labels.tolist() == expected


# ---- 7, 8, 9. SOCKET's and TGKT's losses term by term ------------------------------------------------------


def _batch_for(model_inputs: int, with_teacher: bool = False) -> Batch:
    g = torch.Generator().manual_seed(3)
    teacher = torch.softmax(torch.randn(model_inputs, K, generator=g) * 2, 1) if with_teacher else None
    return Batch(x=torch.randn(model_inputs, 3, SIZE, SIZE, generator=g), index=torch.arange(model_inputs),
                 pseudo=PseudoLabels(torch.tensor([0, 1, 2, 1, 0, 2]), torch.tensor([0.9, 0.2, 0.8, 0.6, 0.1, 0.7])),
                 teacher=teacher, ti_x=torch.randn(5, 3, SIZE, SIZE, generator=g),
                 ti_source_features=torch.randn(5, 16, generator=g))


def test_socket_loss_is_its_four_terms_by_hand():
    source = source_with_statistics()
    model = tiny_model(2).train()
    objective = SocketObjective()
    objective.setup(source, CPU)
    batch = _batch_for(6)
    recorder = Recorder(model)
    loss, terms = objective.loss(model, batch)
    recorder.close()
    (logits, _), (_, ti_features) = recorder.outputs
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    expected = {"pl": ce64(logits, batch.pseudo.labels.tolist()), "im": im64(logits),
                "bn": recorder.bn_loss(source, n_bn),
                "ti": norm64(ti_features - batch.ti_source_features.double())}  # ||Z_t - Z_s||_F, not squared
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-4), name
    total = 0.3 * expected["pl"] + 1.0 * expected["im"] + 0.5 * expected["bn"] + 0.5 * expected["ti"]
    assert loss.item() == pytest.approx(total, rel=1e-4)


def test_tgkt_loss_is_its_five_terms_by_hand():
    source = source_with_statistics()
    model = tiny_model(2).train()
    objective = TgktObjective(confidence=0.5)
    objective.setup(source, CPU)
    batch = _batch_for(6, with_teacher=True)
    recorder = Recorder(model)
    loss, terms = objective.loss(model, batch)
    recorder.close()
    (logits, _), (_, ti_features) = recorder.outputs
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.backbone.modules())
    kept = [y if c >= 0.5 else -1 for y, c in zip(batch.pseudo.labels.tolist(), batch.pseudo.confidence.tolist())]
    expected = {"kl": kl64(batch.teacher, logits),  # KL(teacher || student): the teacher's mass weights the logs
                "self": ce64(logits, kept), "im": im64(logits), "bn": recorder.bn_loss(source, n_bn),
                "f": norm64(ti_features - batch.ti_source_features.double())}
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-4), name
    total = (1.0 * expected["kl"] + 0.3 * expected["self"] + 1.0 * expected["im"] + 0.5 * expected["bn"]
             + 0.5 * expected["f"])
    assert loss.item() == pytest.approx(total, rel=1e-4)


# ---- 3 and 5. What trains: never the head; for TENT only BatchNorm's scale and shift ------------------------


def _objective(method: str) -> Objective | None:
    return METHODS.create(method)


def _trained_ids(procedure: Adaptation) -> set[int]:
    return {id(p) for group in procedure.optimizer.param_groups for p in group["params"]}


@pytest.mark.parametrize("method", [m for m in METHODS if m != "source-only"])
def test_head_is_in_no_methods_optimiser_and_needs_no_gradient(method):
    objective = _objective(method)
    labels = torch.zeros(8, dtype=torch.int64) if objective.uses_labels else None
    procedure = Adaptation(tiny_model(), adapt_data(), objective, one_step(), CPU, labels)
    head = list(procedure.model.head.parameters())
    assert head and not {id(p) for p in head} & _trained_ids(procedure)
    assert not any(p.requires_grad for p in head)
    assert {id(p) for p in procedure.model.parameters() if p.requires_grad} == _trained_ids(procedure)


@pytest.mark.parametrize("method", ["shot", "tent", "oracle"])
def test_head_weights_are_unchanged_after_one_adaptation_step(method):
    source = tiny_model()
    objective = _objective(method)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]) if objective.uses_labels else None
    result = adapt(source, adapt_data(), objective, one_step(), CPU, labels)
    before, after = source.state_dict(), result.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("head."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(("backbone.", "bottleneck.")))


def _batchnorm_affine(model: Classifier) -> dict[str, nn.Parameter]:
    names = {}
    for prefix, module in model.named_modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            names[f"{prefix}.weight"], names[f"{prefix}.bias"] = module.weight, module.bias
    return names


def test_tent_optimiser_holds_only_batchnorm_affine_parameters():
    procedure = Adaptation(tiny_model(), adapt_data(), TentObjective(), one_step(), CPU, None)
    affine = _batchnorm_affine(procedure.model)
    assert _trained_ids(procedure) == {id(p) for p in affine.values()}
    assert {n for n, p in procedure.model.named_parameters() if p.requires_grad} == set(affine)
    # the backbone's at lr x backbone-lr-mult, the bottleneck's at lr
    lrs = {group["lr"] for group in procedure.optimizer.param_groups}
    assert len(lrs) == 2


def test_tent_step_changes_only_batchnorm_affine_parameters():
    source = tiny_model()
    result = adapt(source, adapt_data(), TentObjective(), one_step(), CPU)
    before, after = dict(source.named_parameters()), dict(result.model.named_parameters())
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and changed <= set(_batchnorm_affine(source))


# ---- 4. TR labels never reach a method that does not ask for them -------------------------------------------


@pytest.mark.parametrize("method", ["shot", "oracle"])
def test_tr_labels_are_hidden_from_the_method_data(method, tiny_synth, tiny_source, tmp_path, monkeypatch):
    import xmt.stages.transfer as stage

    seen = {}

    class Stop(Exception):
        pass

    def capture(source, data, objective, config, device, labels=None, run_state=None):
        seen.update(data=data, labels=labels)
        raise Stop

    monkeypatch.setattr(stage, "adapt", capture)
    with pytest.raises(Stop):
        stage.run_transfer(method=method, source_model=tiny_source, target_data=tiny_synth / "target" / "adapt" / "depth",
                           target="depth", out=tmp_path / "t.safetensors", translated=None, ti=None,
                           config=AdaptConfig(epochs=1), device=CPU)
    assert len(seen["data"].tr) > 0 and bool((seen["data"].tr.labels == -1).all())  # the images carry no labels
    if method == "oracle":  # the oracle alone gets them, beside the data, and they are the real ones
        assert seen["labels"] is not None and bool((seen["labels"] >= 0).all())
        assert len(set(seen["labels"].tolist())) > 1
    else:
        assert seen["labels"] is None


def test_a_batch_carries_labels_only_for_an_objective_that_uses_them():
    seen = []

    class Probe(Objective):
        name = "probe"

        def loss(self, model, batch):
            seen.append(batch.labels)
            logits, _ = model(batch.x)
            return logits.float().logsumexp(1).mean(), {}

    data = adapt_data()
    adapt(tiny_model(), data, Probe(), one_step(), CPU)
    assert seen == [None]
    Probe.uses_labels = True
    seen.clear()
    adapt(tiny_model(), data, Probe(), one_step(), CPU, torch.arange(8) % K)
    assert seen[0] is not None and seen[0].sort().values.tolist() == sorted((torch.arange(8) % K).tolist())


# ---- 6. The vq translator's auxiliary loss is part of the bridge's loss --------------------------------------


def _bridge(alpha_im: float) -> tuple[Bridge, Trainer]:
    trainer = Trainer(CPU, "fp32", seed=0, log_name="test")
    g = torch.Generator().manual_seed(4)
    n = 8
    rgb = NativeImages(torch.randint(0, 256, (n, 3, SIZE, SIZE), generator=g, dtype=torch.uint8),
                       torch.full((n,), -1), [f"r{i}.png" for i in range(n)])
    config = BridgeConfig(translator="vq", translator_args={"base_channels": 4, "embed_dim": 8, "codebook_size": 8},
                          epochs=1, batch_size=4, alpha_d=0.0, alpha_im=alpha_im, holdout_fraction=0.0)
    data = BridgeData(rgb, depth_images(n, 1), depth_images(n, 2), EncodingRecipe.for_modality("rgb", size=SIZE),
                      EncodingRecipe.for_modality("depth", size=SIZE))
    return Bridge(source_with_statistics(), data, config, CPU, trainer.generator), trainer


def test_vq_loss_reaches_the_bridge_loss_and_the_codebook():
    bridge, trainer = _bridge(alpha_im=0.0)
    loss, terms = bridge.train_step(torch.arange(4), torch.arange(4, 8), trainer)
    assert terms["vq"].item() > 0
    assert loss.item() == pytest.approx(terms["rec"].item() + terms["vq"].item(), rel=1e-5)
    loss.backward()
    codebook = bridge.translator.quantizer.codebook if hasattr(bridge.translator, "quantizer") else next(
        p for n, p in bridge.translator.named_parameters() if n.endswith("codebook"))
    # the straight-through estimator passes no gradient to the codes: only the codebook loss moves them
    assert codebook.grad is not None and codebook.grad.abs().sum() > 0


def test_vq_loss_of_the_tr_translations_reaches_the_bridge_loss_too():
    bridge, trainer = _bridge(alpha_im=0.1)
    loss, terms = bridge.train_step(torch.arange(4), torch.arange(4, 8), trainer)
    tr_aux = bridge.translator.aux_loss().item()  # the last forward's: the TR batch's
    assert tr_aux > 0
    expected = terms["rec"].item() + terms["vq"].item() + tr_aux + 0.1 * terms["im"].item()
    assert loss.item() == pytest.approx(expected, rel=1e-5)
