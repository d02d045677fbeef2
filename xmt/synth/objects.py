"""The vocabulary of object kinds shared by every scene class: furniture built from primitives.

Each builder starts an object at a placement and adds its parts in the object's frame (origin on the
floor at the footprint's centre, front towards -z). Sizes are drawn around real furniture sizes, and
each part's material is drawn from the kind's palette: a kind partly decides its look (beds wear
linen, sofas fabric or leather, fridges white or steel), so colour is partly predictable from shape.
"""

from __future__ import annotations

from .scene import Placement, SceneBuilder

WOODS = ("wood_light", "wood_medium", "wood_dark", "laminate_beech")
BOARDS = WOODS + ("laminate_white", "laminate_grey")
FABRICS = ("fabric_red", "fabric_green", "fabric_blue", "fabric_grey", "fabric_beige", "fabric_black",
           "fabric_mustard")
UPHOLSTERY = FABRICS + ("leather_brown", "leather_black")
LEGS = ("metal_black", "metal_steel", "wood_medium", "plastic_black_carbon", "metal_chrome")
PLASTICS = ("plastic_white", "plastic_red", "plastic_blue", "plastic_orange", "plastic_green",
            "plastic_black_dyed", "plastic_black_carbon")


def _legs(b: SceneBuilder, width, depth, height, thickness, material, inset=0.04) -> None:
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.box((sx * (width / 2 - inset), height / 2, sz * (depth / 2 - inset)),
                  (thickness, height, thickness), material)


def bed(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, length = r.uniform(1.0, 1.9), r.uniform(1.95, 2.15)
    b.begin("bed", at)
    frame = b.material(*WOODS, "fabric_grey", "fabric_beige", "laminate_white")
    base_h, mattress_h = r.uniform(0.22, 0.38), r.uniform(0.15, 0.25)
    b.box((0, base_h / 2, 0), (w, base_h, length), frame)
    linen = b.material("linen_white", "linen_pastel")
    b.box((0, base_h + mattress_h / 2, 0.02), (w - 0.05, mattress_h, length - 0.08), linen)
    top = base_h + mattress_h
    b.box((0, top + 0.03, -length * 0.17), (w + 0.04, 0.07, length * 0.68), b.material(*FABRICS, "linen_pastel"))
    head_h = r.uniform(0.8, 1.3)
    b.box((0, head_h / 2, length / 2 + 0.04), (w + 0.08, head_h, 0.08), frame)
    pillows = 1 if w < 1.35 else 2
    for i in range(pillows):
        x = (i - (pillows - 1) / 2) * w / 2
        b.ellipsoid((x, top + 0.07, length / 2 - 0.28), (w / (2 * pillows) - 0.05, 0.08, 0.17), linen)
    return w + 0.08, length + 0.08


def nightstand(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, d, h = r.uniform(0.4, 0.55), r.uniform(0.35, 0.45), r.uniform(0.45, 0.62)
    b.begin("nightstand", at)
    b.box((0, h / 2, 0), (w, h, d), b.material(*BOARDS))
    if r.random() < 0.7:  # table lamp: base, stem, shade
        b.frustum((0, h, 0), 0.3, 0.02, 0.02, b.material("metal_steel", "ceramic_white", "wood_medium"))
        b.frustum((0, h + 0.25, 0), r.uniform(0.18, 0.25), 0.14, 0.09, b.material("linen_white", "fabric_beige"))
    return w, d


def wardrobe(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, d, h = r.uniform(0.9, 2.0), r.uniform(0.55, 0.65), r.uniform(1.9, 2.3)
    b.begin("wardrobe", at)
    body = b.material(*BOARDS)
    b.box((0, h / 2, 0), (w, h, d), body)
    b.box((0, 0.05, -0.01), (w - 0.02, 0.1, d), b.material("wood_dark", "metal_black", "laminate_grey"))
    for x in (-0.04, 0.04):  # door handles
        b.box((x, h * 0.5, -d / 2 - 0.02), (0.02, 0.25, 0.03), b.material("metal_chrome", "metal_black"))
    return w, d


def monitor(b: SceneBuilder, at: Placement) -> None:
    r = b.rng
    w = r.uniform(0.45, 0.65)
    b.begin("monitor", at)
    b.frustum((0, 0, 0.05), 0.012, 0.1, 0.1, b.material("plastic_black_carbon", "metal_steel"))
    b.box((0, 0.12, 0.05), (0.04, 0.22, 0.03), b.material("plastic_black_carbon", "metal_steel"))
    b.box((0, 0.12 + w * 0.3, 0.02), (w, w * 0.6, 0.03), b.material("screen_black"))


def desk(b: SceneBuilder, at: Placement, width=None, with_monitor=None) -> tuple[float, float]:
    r = b.rng
    w, d, h = width or r.uniform(1.1, 1.7), r.uniform(0.6, 0.8), r.uniform(0.72, 0.76)
    b.begin("desk", at)
    top = b.material(*BOARDS)
    b.box((0, h - 0.015, 0), (w, 0.03, d), top)
    side = top if r.random() < 0.6 else b.material(*LEGS)
    for sx in (-1, 1):
        b.box((sx * (w / 2 - 0.02), (h - 0.03) / 2, 0), (0.03, h - 0.03, d - 0.04), side)
    b.box((0, h * 0.6, d / 2 - 0.05), (w - 0.06, h * 0.5, 0.02), side)  # modesty panel
    if with_monitor if with_monitor is not None else r.random() < 0.5:
        x, _, z = at.to_world((0.0, 0.0, d * 0.15))
        monitor(b, Placement(x, z, at.yaw, y=at.y + h))
    return w, d


def table(b: SceneBuilder, at: Placement, width=None, depth=None) -> tuple[float, float]:
    r = b.rng
    w, d, h = width or r.uniform(0.8, 1.8), depth or r.uniform(0.7, 1.0), r.uniform(0.72, 0.77)
    b.begin("table", at)
    top = b.material(*BOARDS, "glass")
    b.box((0, h - 0.02, 0), (w, 0.04, d), top)
    _legs(b, w, d, h - 0.04, r.uniform(0.04, 0.07), b.material(*LEGS))
    return w, d


def round_table(b: SceneBuilder, at: Placement, radius=None) -> tuple[float, float]:
    r = b.rng
    radius, h = radius or r.uniform(0.4, 0.65), r.uniform(0.72, 0.77)
    b.begin("round_table", at)
    b.frustum((0, h - 0.04, 0), 0.04, radius, radius, b.material(*BOARDS))
    leg = b.material(*LEGS)
    b.frustum((0, 0.03, 0), h - 0.07, 0.05, 0.05, leg)
    b.frustum((0, 0, 0), 0.03, radius * 0.6, radius * 0.5, leg)
    return 2 * radius, 2 * radius


def chair(b: SceneBuilder, at: Placement, material=None) -> tuple[float, float]:
    r = b.rng
    w, d, seat_h, back_h = r.uniform(0.42, 0.5), r.uniform(0.42, 0.5), r.uniform(0.43, 0.48), r.uniform(0.35, 0.5)
    b.begin("chair", at)
    shell = material if material is not None else b.material(*WOODS, *PLASTICS, *FABRICS[:3])
    b.box((0, seat_h - 0.025, 0), (w, 0.05, d), shell)
    b.box((0, seat_h + back_h / 2, d / 2 - 0.02), (w, back_h, 0.04), shell)
    _legs(b, w, d, seat_h - 0.05, 0.035, b.material(*LEGS), inset=0.03)
    return w, d


def office_chair(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    seat_h, back_h = r.uniform(0.45, 0.52), r.uniform(0.45, 0.65)
    b.begin("office_chair", at)
    base = b.material("plastic_black_carbon", "metal_chrome", "plastic_black_dyed")
    b.frustum((0, 0, 0), 0.06, 0.3, 0.25, base)
    b.frustum((0, 0.06, 0), seat_h - 0.12, 0.03, 0.03, base)
    cover = b.material(*FABRICS, "leather_black", "plastic_black_dyed")
    b.box((0, seat_h - 0.04, 0), (0.48, 0.08, 0.46), cover)
    b.box((0, seat_h + 0.06 + back_h / 2, 0.22), (0.44, back_h, 0.06), cover)
    return 0.6, 0.6


def stool(b: SceneBuilder, at: Placement, height=None) -> tuple[float, float]:
    r = b.rng
    h = height or r.uniform(0.45, 0.75)
    b.begin("stool", at)
    b.frustum((0, h - 0.05, 0), 0.05, 0.18, 0.18, b.material(*WOODS, *PLASTICS, "leather_black"))
    b.frustum((0, 0, 0), h - 0.05, 0.16, 0.04, b.material(*LEGS))
    return 0.36, 0.36


def sofa(b: SceneBuilder, at: Placement, width=None) -> tuple[float, float]:
    r = b.rng
    w, d = width or r.uniform(1.5, 2.4), r.uniform(0.8, 0.95)
    seat_h, back_h, arm_w = r.uniform(0.38, 0.45), r.uniform(0.75, 0.9), r.uniform(0.1, 0.22)
    b.begin("sofa", at)
    cover = b.material(*UPHOLSTERY)
    b.box((0, seat_h / 2, -0.05), (w - 2 * arm_w, seat_h, d - 0.1), cover)
    b.box((0, back_h / 2, d / 2 - 0.1), (w, back_h, 0.2), cover)
    for sx in (-1, 1):
        b.box((sx * (w / 2 - arm_w / 2), seat_h * 0.75, 0), (arm_w, seat_h * 1.5, d), cover)
    if r.random() < 0.5:  # cushions
        cushion = b.material(*FABRICS, "linen_white")
        for sx in (-1, 1):
            b.box((sx * (w / 2 - arm_w - 0.25), seat_h + 0.2, d / 2 - 0.25), (0.4, 0.38, 0.12), cushion)
    return w, d


def armchair(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    return sofa(b, at, width=b.rng.uniform(0.75, 1.0))


def coffee_table(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, d, h = r.uniform(0.8, 1.3), r.uniform(0.45, 0.7), r.uniform(0.35, 0.48)
    b.begin("coffee_table", at)
    if r.random() < 0.5:
        b.box((0, h / 2, 0), (w, h, d), b.material(*BOARDS))
    else:
        b.box((0, h - 0.02, 0), (w, 0.04, d), b.material(*BOARDS, "glass", "marble"))
        _legs(b, w, d, h - 0.04, 0.04, b.material(*LEGS))
    return w, d


def tv_unit(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, d, h = r.uniform(1.2, 2.0), r.uniform(0.4, 0.5), r.uniform(0.4, 0.55)
    b.begin("tv_unit", at)
    b.box((0, h / 2, 0), (w, h, d), b.material(*BOARDS))
    tv_w = r.uniform(0.9, min(1.6, w))
    b.box((0, h + 0.03, 0.05), (0.3, 0.06, 0.2), b.material("plastic_black_carbon"))
    b.box((0, h + 0.06 + tv_w * 0.29, 0.05), (tv_w, tv_w * 0.57, 0.06), b.material("screen_black"))
    return w, d


def bookshelf(b: SceneBuilder, at: Placement, width=None, height=None) -> tuple[float, float]:
    r = b.rng
    w, d, h = width or r.uniform(0.8, 1.2), r.uniform(0.3, 0.4), height or r.uniform(1.8, 2.3)
    shelves = int(r.integers(4, 7))
    b.begin("bookshelf", at)
    wood = b.material(*BOARDS)
    b.box((0, h / 2, d / 2 - 0.01), (w, h, 0.02), wood)  # back panel
    for sx in (-1, 1):
        b.box((sx * (w / 2 - 0.01), h / 2, 0), (0.02, h, d), wood)
    pitch = (h - 0.02) / shelves
    books = b.material("books")
    for i in range(shelves + 1):
        b.box((0, 0.01 + i * pitch, 0), (w, 0.025, d), wood)
        if i < shelves and r.random() < 0.85:
            fill, book_h = r.uniform(0.5, 0.98), pitch * r.uniform(0.6, 0.85)
            book_d = d * r.uniform(0.6, 0.9)
            x = r.uniform(-1, 1) * (1 - fill) * (w - 0.04) / 2
            b.box((x, 0.02 + i * pitch + book_h / 2, d / 2 - 0.02 - book_d / 2),
                  ((w - 0.04) * fill, book_h, book_d), books)
    return w, d


def cabinet(b: SceneBuilder, at: Placement, width=None, height=None) -> tuple[float, float]:
    r = b.rng
    w, d, h = width or r.uniform(0.8, 1.8), r.uniform(0.4, 0.55), height or r.uniform(0.75, 1.1)
    b.begin("cabinet", at)
    body = b.material(*BOARDS, "metal_steel")
    b.box((0, h / 2, 0), (w, h, d), body)
    doors = max(1, int(round(w / 0.5)))
    handle = b.material("metal_chrome", "metal_black")
    for i in range(doors):
        b.box((-w / 2 + (i + 0.5) * w / doors, h * 0.7, -d / 2 - 0.015), (0.1, 0.02, 0.03), handle)
    return w, d


def counter(b: SceneBuilder, at: Placement, width=None, top=None) -> tuple[float, float]:
    """Kitchen base cabinets under a worktop, with a sink or a hob set into it."""
    r = b.rng
    w, d, h = width or r.uniform(1.2, 3.0), 0.6, r.uniform(0.86, 0.92)
    b.begin("counter", at)
    b.box((0, (h - 0.04) / 2 + 0.05, 0.02), (w, h - 0.09, d - 0.04), b.material(*BOARDS))
    b.box((0, 0.025, 0.06), (w, 0.05, d - 0.12), b.material("plastic_black_carbon", "wood_dark", "metal_steel"))
    b.box((0, h - 0.02, 0), (w, 0.04, d), top if top is not None else b.material("granite", "marble", *WOODS))
    if w > 1.0 and r.random() < 0.7:  # hob or sink
        x = r.uniform(-w / 2 + 0.4, w / 2 - 0.4)
        b.box((x, h + 0.005, 0), (0.6, 0.01, 0.5), b.material("screen_black", "metal_steel"))
    return w, d


def upper_cabinet(b: SceneBuilder, at: Placement, width=None) -> tuple[float, float]:
    r = b.rng
    w, d, h = width or r.uniform(0.6, 2.4), 0.35, r.uniform(0.6, 0.8)
    b.begin("upper_cabinet", at)
    b.box((0, h / 2, 0), (w, h, d), b.material(*BOARDS))
    return w, d


def fridge(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, d, h = r.uniform(0.6, 0.9), r.uniform(0.65, 0.75), r.uniform(1.7, 2.0)
    b.begin("fridge", at)
    b.box((0, h / 2, 0), (w, h, d), b.material("plastic_white", "metal_steel", "metal_black"))
    b.box((w / 2 - 0.08, h * 0.6, -d / 2 - 0.03), (0.03, 0.5, 0.04), b.material("metal_chrome", "plastic_black_carbon"))
    return w, d


def stove(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    b.begin("stove", at)
    b.box((0, 0.45, 0), (0.6, 0.9, 0.6), b.material("metal_steel", "plastic_white", "metal_black"))
    b.box((0, 0.905, 0), (0.56, 0.01, 0.56), b.material("screen_black"))
    b.box((0, 0.45, -0.305), (0.45, 0.3, 0.01), b.material("glass"))
    return 0.6, 0.6


def toilet(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    b.begin("toilet", at)
    ceramic = b.material("ceramic_white")
    b.frustum((0, 0, -0.05), 0.36, 0.14, 0.2, ceramic)
    b.ellipsoid((0, 0.4, -0.08), (0.19, 0.04, 0.25), b.material("ceramic_white", "plastic_white", "wood_light"))
    b.box((0, 0.6, 0.2), (0.4, r.uniform(0.35, 0.45), 0.18), ceramic)
    return 0.45, 0.7


def washbasin(b: SceneBuilder, at: Placement, with_mirror=True) -> tuple[float, float]:
    r = b.rng
    w = r.uniform(0.5, 0.7)
    b.begin("washbasin", at)
    ceramic = b.material("ceramic_white")
    if r.random() < 0.5:
        b.frustum((0, 0, 0.05), 0.68, 0.11, 0.08, ceramic)  # pedestal
    else:
        b.box((0, 0.35, 0.02), (w, 0.6, 0.42), b.material(*BOARDS))  # vanity unit
    b.box((0, 0.76, 0), (w, 0.16, 0.46), ceramic)
    if with_mirror:
        mirror_size = (w * r.uniform(0.9, 1.4), r.uniform(0.5, 0.8), 0.02)
        b.box((0, r.uniform(1.3, 1.5), 0.23), mirror_size, b.material("mirror"))
    return w, 0.46


def bathtub(b: SceneBuilder, at: Placement, length=None) -> tuple[float, float]:
    r = b.rng
    length, w, h = length or r.uniform(1.5, 1.75), r.uniform(0.7, 0.8), r.uniform(0.5, 0.6)
    b.begin("bathtub", at)
    shell = b.material("ceramic_white", "plastic_white")
    wall = 0.08
    b.box((0, 0.05, 0), (length, 0.1, w), shell)
    for sz in (-1, 1):
        b.box((0, h / 2, sz * (w / 2 - wall / 2)), (length, h, wall), shell)
    for sx in (-1, 1):
        b.box((sx * (length / 2 - wall / 2), h / 2, 0), (wall, h, w - 2 * wall), shell)
    return length, w


def shower(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    s = r.uniform(0.8, 1.0)
    b.begin("shower", at)
    glass = b.material("glass")
    b.box((0, 0.05, 0), (s, 0.1, s), b.material("ceramic_white"))
    b.box((0, 1.05, -s / 2), (s, 1.9, 0.02), glass)
    b.box((-s / 2, 1.05, 0), (0.02, 1.9, s), glass)
    return s, s


def plant(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    pot_r, pot_h = r.uniform(0.12, 0.25), r.uniform(0.2, 0.45)
    b.begin("plant", at)
    b.frustum((0, 0, 0), pot_h, pot_r * 0.75, pot_r, b.material("terracotta", *PLASTICS[:2], "ceramic_white"))
    leaves = b.material("foliage")
    if r.random() < 0.5:
        size = r.uniform(0.3, 0.6)
        b.ellipsoid((0, pot_h + size * 0.8, 0), (size, size * r.uniform(0.8, 1.4), size), leaves)
    else:
        b.frustum((0, pot_h, 0), r.uniform(0.8, 1.6), pot_r * 2.2, 0.0, leaves)
    return 2 * pot_r, 2 * pot_r


def floor_lamp(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    h = r.uniform(1.4, 1.8)
    b.begin("floor_lamp", at)
    metal = b.material(*LEGS)
    b.frustum((0, 0, 0), 0.03, 0.16, 0.16, metal)
    b.frustum((0, 0.03, 0), h, 0.015, 0.015, metal)
    b.frustum((0, h - 0.05, 0), 0.3, 0.22, 0.14, b.material("linen_white", "fabric_beige", "fabric_mustard"))
    return 0.4, 0.4


def wall_board(b: SceneBuilder, at: Placement, width=None, kind=None) -> tuple[float, float]:
    """Whiteboard, blackboard or projection screen: almost flat, so mostly a colour cue."""
    r = b.rng
    w = width or r.uniform(1.5, 3.0)
    h = r.uniform(1.0, 1.3)
    b.begin("board", at)
    surface = kind or ("whiteboard", "blackboard")[int(r.integers(2))]
    b.box((0, h / 2, 0), (w, h, 0.02), b.material(surface))
    b.box((0, -0.03, -0.03), (w, 0.03, 0.06), b.material("metal_steel", "wood_light"))  # marker tray
    return w, 0.04


def door(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w = r.uniform(0.85, 1.0)
    b.begin("door", at)
    b.box((0, 1.02, 0), (w, 2.04, 0.04), b.material(*BOARDS, "metal_steel", "paint_grey"))
    frame = b.material("laminate_white", "wood_medium", "metal_black")
    for sx in (-1, 1):
        b.box((sx * (w / 2 + 0.04), 1.05, -0.01), (0.08, 2.1, 0.06), frame)
    b.box((w / 2 - 0.1, 1.0, -0.04), (0.12, 0.02, 0.04), b.material("metal_chrome"))
    return w + 0.16, 0.06


def window(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w, h = r.uniform(0.8, 1.8), r.uniform(1.0, 1.5)
    b.begin("window", at)
    b.box((0, h / 2, 0), (w, h, 0.02), b.material("glass"))
    frame = b.material("laminate_white", "wood_medium", "metal_black")
    for sy in (0.0, h):
        b.box((0, sy, -0.03), (w + 0.1, 0.06, 0.08), frame)
    for sx in (-1, 1):
        b.box((sx * w / 2, h / 2, -0.03), (0.06, h, 0.08), frame)
    return w, 0.1


def rug(b: SceneBuilder, at: Placement, width=None, depth=None) -> tuple[float, float]:
    r = b.rng
    w, d = width or r.uniform(1.2, 2.5), depth or r.uniform(0.8, 1.8)
    b.begin("rug", at)
    b.box((0, 0.006, 0), (w, 0.012, d), b.material("carpet_red", "carpet_blue", "carpet_grey", *FABRICS))
    return w, d


def carton(b: SceneBuilder, at: Placement, size=None) -> tuple[float, float]:
    r = b.rng
    w, h, d = size or (r.uniform(0.3, 0.6), r.uniform(0.25, 0.5), r.uniform(0.3, 0.5))
    b.begin("carton", at)
    b.box((0, h / 2, 0), (w, h, d), b.material("cardboard", "cardboard", "plastic_blue", "plastic_white"))
    return w, d


def washing_machine(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    b.begin("washing_machine", at)
    b.box((0, 0.425, 0), (0.6, 0.85, 0.6), b.material("plastic_white", "plastic_white", "metal_steel"))
    b.ellipsoid((0, 0.45, -0.3), (0.2, 0.2, 0.04), b.material("glass", "metal_chrome"))
    return 0.6, 0.6


def column(b: SceneBuilder, at: Placement, height: float) -> tuple[float, float]:
    r = b.rng
    radius = r.uniform(0.2, 0.4)
    b.begin("column", at)
    material = b.material("concrete", "paint_white", "marble", "paint_beige")
    if r.random() < 0.5:
        b.frustum((0, 0, 0), height, radius, radius, material)
    else:
        b.box((0, height / 2, 0), (2 * radius, height, 2 * radius), material)
    return 2 * radius, 2 * radius


def reception_desk(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    r = b.rng
    w = r.uniform(2.0, 3.5)
    b.begin("reception_desk", at)
    front = b.material(*BOARDS, "marble", "metal_steel")
    b.box((0, 0.55, 0), (w, 1.1, 0.3), front)
    b.box((0, 0.74, 0.4), (w, 0.04, 0.7), b.material(*BOARDS))
    b.box((0, 1.12, -0.05), (w + 0.05, 0.04, 0.4), b.material("granite", "marble", *WOODS))
    return w, 1.0


def storage_rack(b: SceneBuilder, at: Placement) -> tuple[float, float]:
    """Open metal shelving loaded with cartons."""
    r = b.rng
    w, d, h = r.uniform(1.0, 2.0), r.uniform(0.4, 0.6), r.uniform(1.8, 2.4)
    levels = int(r.integers(3, 6))
    b.begin("storage_rack", at)
    metal = b.material("metal_steel", "metal_black", "plastic_blue", "plastic_orange")
    _legs(b, w, d, h, 0.04, metal, inset=0.02)
    load = b.material("cardboard", "plastic_blue", "plastic_white")
    for i in range(levels):
        y = 0.1 + i * (h - 0.15) / (levels - 1)
        b.box((0, y, 0), (w, 0.03, d), metal)
        if i < levels - 1 and r.random() < 0.8:
            bw, bh = w * r.uniform(0.3, 0.9), min(0.4, (h - 0.15) / (levels - 1) * r.uniform(0.4, 0.85))
            b.box((r.uniform(-1, 1) * (w - bw) / 2, y + 0.015 + bh / 2, 0), (bw, bh, d * 0.85), load)
    return w, d


def partition(b: SceneBuilder, at: Placement, depth: float, height=None) -> tuple[float, float]:
    """Thin wall panel standing on short feet (toilet cubicles, office screens), length along z."""
    h = height or b.rng.uniform(1.6, 2.0)
    b.begin("partition", at)
    b.box((0, 0.15 + h / 2, 0), (0.03, h, depth), b.material("laminate_grey", "laminate_white", "plastic_blue",
                                                               "plastic_green", "fabric_grey"))
    return 0.03, depth


def platform(b: SceneBuilder, at: Placement, width: float, depth: float, height: float) -> tuple[float, float]:
    """A raised floor step (lecture theatre tiers, stages)."""
    b.begin("platform", at)
    b.box((0, height / 2, 0), (width, height, depth), b.material("carpet_grey", "carpet_blue", "linoleum_beige",
                                                                 "wood_medium"))
    return width, depth
