"""Scene classes: layouts of the shared object vocabulary in rooms, in the spirit of SUN RGB-D.

A class is a room size, a set of object kinds and an arrangement (against which walls, in rows, in
a grid, around a table), with random sizes, counts, poses, materials and camera pose. The class can
be told from geometry alone; wall and floor finishes and the kinds' palettes make colour a helpful
but not decisive cue. Task-irrelevant (TI) classes are other arrangements of the same kinds and
materials, so a depth-to-RGB translator trained on them meets familiar pieces in TR scenes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import objects as o
from .camera import Pose
from .scene import Placement, Scene, SceneBuilder

HALF_TURN = np.pi
QUARTER = np.pi / 2

HOME_WALLS = ("paint_white", "paint_beige", "paint_blue", "paint_green", "paint_yellow", "paint_pink")
WORK_WALLS = ("paint_white", "paint_grey", "paint_beige", "concrete", "paint_green")
WET_WALLS = ("tiles_white", "tiles_blue", "tiles_green", "paint_white")
HOME_FLOORS = ("floor_oak", "floor_walnut", "carpet_grey", "carpet_blue", "carpet_red")
WORK_FLOORS = ("linoleum_green", "linoleum_beige", "carpet_grey", "carpet_blue", "floor_tiles_light",
               "concrete_floor")
WET_FLOORS = ("floor_tiles_light", "floor_tiles_dark")
CEILINGS = ("paint_white", "ceiling_tiles")


@dataclass
class Room:
    width: float  # x, from -width/2 to width/2
    depth: float  # z, from 0 (behind the camera) to depth
    height: float

    def back(self, x: float, object_depth: float, y: float = 0.0) -> Placement:
        """Against the far wall, facing the camera."""
        return Placement(x, self.depth - object_depth / 2, 0.0, y)

    def left(self, z: float, object_depth: float, y: float = 0.0) -> Placement:
        return Placement(-self.width / 2 + object_depth / 2, z, -QUARTER, y)

    def right(self, z: float, object_depth: float, y: float = 0.0) -> Placement:
        return Placement(self.width / 2 - object_depth / 2, z, QUARTER, y)

    def side(self, left: bool, z: float, object_depth: float, y: float = 0.0) -> Placement:
        return self.left(z, object_depth, y) if left else self.right(z, object_depth, y)


def _room(r: np.random.Generator, width, depth, height) -> tuple[Room, SceneBuilder]:
    room = Room(r.uniform(*width), r.uniform(*depth), r.uniform(*height))
    return room, SceneBuilder(r, (room.width, room.depth, room.height))


CLUTTER = (o.carton, o.plant, o.floor_lamp, o.stool, o.chair)


def _clutter(b: SceneBuilder, room: Room) -> None:
    """Up to three stray items along the side walls, whatever the room: real rooms are never tidy."""
    r = b.rng
    for _ in range(int(r.integers(0, 4))):
        item = CLUTTER[int(r.integers(len(CLUTTER)))]
        side = r.choice([-1.0, 1.0])
        item(b, Placement(side * (room.width / 2 - 0.35), r.uniform(1.2, max(1.3, room.depth - 0.4)),
                          r.uniform(0.0, 2 * np.pi)))


def _finish(b: SceneBuilder, room: Room, walls, floors, camera_height=(1.2, 1.7), pitch=(-25, -10),
            yaw=15.0, x_spread=0.25) -> Scene:
    """Clutter, finishes, lights and a camera standing near the front wall looking into the room."""
    r = b.rng
    _clutter(b, room)
    wall = b.material(*walls)
    back = b.material(*walls) if r.random() < 0.3 else wall  # an accent wall
    faces = (wall, wall, b.material(*floors), b.material(*CEILINGS), wall, back)
    pose = Pose((r.uniform(-x_spread, x_spread) * room.width, r.uniform(*camera_height), r.uniform(0.2, 0.5)),
                np.radians(r.uniform(-yaw, yaw)), np.radians(r.uniform(*pitch)), np.radians(r.normal(0.0, 1.5)))
    n_lights = int(r.integers(1, 3))
    positions = np.stack([r.uniform(-0.4, 0.4, n_lights) * room.width, np.full(n_lights, room.height - 0.15),
                          r.uniform(0.3, 0.9, n_lights) * room.depth], axis=1)
    warmth = r.uniform(0.0, 1.0, (n_lights, 1))  # incandescent .. cool daylight LED
    colours = warmth * np.array([1.0, 0.82, 0.6]) + (1 - warmth) * np.array([0.92, 0.97, 1.05])
    colours = colours * r.uniform(0.8, 1.4, (n_lights, 1)) / np.sqrt(n_lights)
    ambient = r.uniform(0.2, 0.45) * colours.mean(axis=0)
    return b.build(faces, pose, positions, colours, ambient)


def bathroom(r) -> Scene:
    room, b = _room(r, (1.8, 2.8), (2.4, 3.4), (2.3, 2.6))
    if r.random() < 0.75:
        length = min(room.width - 0.05, r.uniform(1.5, 1.75))
        o.bathtub(b, room.back(r.uniform(-0.1, 0.1) * room.width, 0.7), length=length)
    else:
        o.shower(b, room.back(room.width / 2 - 0.5, 0.9))
    toilet_left = r.random() < 0.5
    o.toilet(b, room.side(toilet_left, r.uniform(1.1, room.depth - 1.1), 0.65))
    o.washbasin(b, room.side(not toilet_left, r.uniform(1.2, room.depth - 1.0), 0.44))
    if r.random() < 0.4:
        o.cabinet(b, room.side(toilet_left, room.depth - 0.95, 0.4), width=0.5, height=r.uniform(0.8, 1.8))
    if r.random() < 0.5:
        o.rug(b, Placement(r.uniform(-0.3, 0.3), room.depth - 1.1), width=0.8, depth=0.5)
    return _finish(b, room, WET_WALLS, WET_FLOORS, (1.3, 1.7), (-38, -22), yaw=12)


def bedroom(r) -> Scene:
    room, b = _room(r, (3.0, 4.5), (3.5, 5.0), (2.4, 2.8))
    bed_x = r.uniform(-0.2, 0.2) * room.width
    o.bed(b, room.back(bed_x, 2.0))
    for side in (-1, 1):
        if r.random() < 0.75:
            o.nightstand(b, room.back(bed_x + side * r.uniform(0.85, 1.25), 0.38))
    wardrobe_left = r.random() < 0.5
    if r.random() < 0.8:
        o.wardrobe(b, room.side(wardrobe_left, r.uniform(1.5, room.depth - 1.3), 0.55))
    if r.random() < 0.35:
        o.desk(b, room.side(not wardrobe_left, r.uniform(1.4, 2.2), 0.6))
    if r.random() < 0.5:
        o.rug(b, Placement(bed_x, room.depth - 2.3))
    if r.random() < 0.3:
        o.plant(b, Placement(room.width / 2 - 0.4, r.uniform(1.5, room.depth - 0.5)))
    if r.random() < 0.3:
        o.window(b, room.side(not wardrobe_left, room.depth - 1.0, 0.04, y=0.9))
    return _finish(b, room, HOME_WALLS, HOME_FLOORS, (1.2, 1.7), (-30, -15))


def classroom(r) -> Scene:
    room, b = _room(r, (6.0, 9.0), (6.0, 9.0), (2.8, 3.3))
    o.wall_board(b, room.back(r.uniform(-0.5, 0.5), 0.02, y=0.9), width=r.uniform(2.4, 3.6))
    o.desk(b, Placement(r.uniform(-1.5, 1.5), room.depth - 1.3, HALF_TURN), with_monitor=r.random() < 0.3)
    rows, cols = int(r.integers(3, 5)), int(r.integers(3, 5))
    desk_w, pitch_z = r.uniform(0.6, 1.2), r.uniform(1.0, 1.35)
    pitch_x = min((room.width - 1.0) / cols, desk_w + r.uniform(0.4, 0.9))
    chair_mat = b.material(*o.PLASTICS, *o.WOODS)
    for i in range(rows):
        for j in range(cols):
            if r.random() < 0.1:
                continue
            x = (j - (cols - 1) / 2) * pitch_x + r.normal(0, 0.05)
            z = 1.8 + i * pitch_z + r.normal(0, 0.05)
            o.table(b, Placement(x, z, r.normal(0, 0.04)), width=desk_w, depth=0.55)
            o.chair(b, Placement(x + r.normal(0, 0.05), z - 0.5, HALF_TURN + r.normal(0, 0.15)), material=chair_mat)
    return _finish(b, room, WORK_WALLS, WORK_FLOORS, (1.4, 1.8), (-22, -10))


def computer_room(r) -> Scene:
    room, b = _room(r, (5.0, 8.0), (5.0, 8.0), (2.6, 3.0))
    rows = int(r.integers(2, 4))
    run = room.width - r.uniform(1.2, 2.0)
    for i in range(rows):
        z = 2.0 + i * r.uniform(1.5, 1.8)
        seats = int(run // 0.9)
        for j in range(seats):
            x = -run / 2 + (j + 0.5) * run / seats
            o.desk(b, Placement(x, z), width=run / seats, with_monitor=True)
            if r.random() < 0.6:
                o.carton(b, Placement(x + 0.25, z + 0.1), size=(0.2, 0.42, 0.45))  # tower under the desk
            if r.random() < 0.85:
                o.office_chair(b, Placement(x + r.normal(0, 0.08), z - 0.7, HALF_TURN + r.normal(0, 0.3)))
    if r.random() < 0.5:
        o.wall_board(b, room.back(0.0, 0.02, y=0.9), kind="whiteboard")
    return _finish(b, room, WORK_WALLS, WORK_FLOORS, (1.3, 1.8), (-25, -12))


def conference_room(r) -> Scene:
    room, b = _room(r, (3.5, 6.0), (5.0, 8.0), (2.5, 3.0))
    length, width = r.uniform(2.4, min(4.5, room.depth - 2.2)), r.uniform(1.0, 1.4)
    center_z = 1.6 + length / 2 + r.uniform(0, 0.4)
    x0 = r.uniform(-0.2, 0.2)
    o.table(b, Placement(x0, center_z, QUARTER), width=length, depth=width)
    seats = int(length // 0.75)
    for side in (-1, 1):
        for k in range(seats):
            if r.random() < 0.85:
                z = center_z - length / 2 + (k + 0.5) * length / seats
                o.office_chair(b, Placement(x0 + side * (width / 2 + 0.35), z, side * QUARTER + r.normal(0, 0.25)))
    screen = ("whiteboard", "screen_black")[int(r.integers(2))]
    o.wall_board(b, room.back(r.uniform(-0.3, 0.3), 0.02, y=0.9), kind=screen)
    if r.random() < 0.5:
        o.cabinet(b, room.side(r.random() < 0.5, r.uniform(1.5, room.depth - 1.5), 0.45))
    if r.random() < 0.4:
        o.plant(b, Placement(room.width / 2 - 0.35, room.depth - 0.35))
    return _finish(b, room, WORK_WALLS + ("wood_panel",), ("carpet_grey", "carpet_blue", "carpet_red", "floor_oak"),
                   (1.3, 1.8), (-28, -12))


def corridor(r) -> Scene:
    room, b = _room(r, (1.6, 2.6), (8.0, 15.0), (2.5, 3.0))
    for left in (True, False):
        z = r.uniform(1.2, 3.0)
        while z < room.depth - 1.0:
            if r.random() < 0.8:
                o.door(b, room.side(left, z, 0.04))
            z += r.uniform(2.5, 4.0)
    if r.random() < 0.4:  # lockers along one wall
        left = r.random() < 0.5
        start = r.uniform(1.5, 4.0)
        for k in range(int(r.integers(3, 8))):
            o.cabinet(b, room.side(left, start + k * 0.5, 0.45), width=0.5, height=1.8)
    if r.random() < 0.4:
        o.plant(b, Placement(r.choice([-1, 1]) * (room.width / 2 - 0.3), r.uniform(2.0, room.depth - 1.0)))
    if r.random() < 0.3:
        o.door(b, room.back(r.uniform(-0.2, 0.2), 0.04))
    return _finish(b, room, WORK_WALLS + ("brick",), WORK_FLOORS, (1.4, 1.75), (-14, -4), yaw=6, x_spread=0.15)


def _chairs_around_table(b: SceneBuilder, x, z, yaw, w, d, count_per_side, chair_mat, ends: bool) -> None:
    table = Placement(x, z, yaw)

    def put(lx, lz, facing):
        cx, _, cz = table.to_world((lx, 0.0, lz))
        o.chair(b, Placement(cx, cz, yaw + facing + b.rng.normal(0, 0.15)), material=chair_mat)

    for k in range(count_per_side):
        lx = (k - (count_per_side - 1) / 2) * w / count_per_side
        put(lx, -d / 2 - 0.3, HALF_TURN)
        put(lx, d / 2 + 0.3, 0.0)
    if ends:
        put(-w / 2 - 0.3, 0.0, QUARTER)
        put(w / 2 + 0.3, 0.0, -QUARTER)


def dining_room(r) -> Scene:
    room, b = _room(r, (3.5, 5.0), (4.0, 6.0), (2.4, 2.9))
    x, z = r.uniform(-0.3, 0.3), room.depth * r.uniform(0.5, 0.6)
    if r.random() < 0.5:
        o.rug(b, Placement(x, z), width=2.6, depth=2.0)
    chair_mat = b.material(*o.WOODS, *o.FABRICS[:4])
    if r.random() < 0.6:
        yaw = r.choice([0.0, QUARTER]) + r.normal(0, 0.05)
        w, d = o.table(b, Placement(x, z, yaw), width=r.uniform(1.3, 2.0), depth=r.uniform(0.8, 1.0))
        _chairs_around_table(b, x, z, yaw, w, d, int(r.integers(1, 4)), chair_mat, r.random() < 0.5)
    else:
        radius = r.uniform(0.45, 0.7)
        o.round_table(b, Placement(x, z), radius=radius)
        for a in np.linspace(0, 2 * np.pi, int(r.integers(3, 6)), endpoint=False) + r.uniform(0, np.pi):
            o.chair(b, Placement(x + np.sin(a) * (radius + 0.3), z + np.cos(a) * (radius + 0.3), a + HALF_TURN),
                    material=chair_mat)
    if r.random() < 0.8:
        o.cabinet(b, room.back(r.uniform(-0.3, 0.3) * room.width, 0.45), height=r.uniform(0.8, 1.0))
    if r.random() < 0.4:
        o.plant(b, Placement(-room.width / 2 + 0.4, room.depth - 0.4))
    if r.random() < 0.3:
        o.window(b, room.side(r.random() < 0.5, room.depth - 1.3, 0.04, y=0.9))
    return _finish(b, room, HOME_WALLS + ("wood_panel",), HOME_FLOORS[:2] + WET_FLOORS, (1.3, 1.75), (-32, -16))


def kitchen(r) -> Scene:
    room, b = _room(r, (2.5, 4.5), (3.0, 5.0), (2.4, 2.8))
    top = b.material("granite", "marble", *o.WOODS)
    run = room.width - r.uniform(0.0, 0.8)
    fridge_left = r.random() < 0.5
    fridge_x = (-1 if fridge_left else 1) * (room.width / 2 - 0.4)
    o.fridge(b, room.back(fridge_x, 0.65))
    counter_w = run - 0.8
    run_x = -room.width / 2 + 0.8 + counter_w / 2 if fridge_left else room.width / 2 - 0.8 - counter_w / 2
    o.counter(b, room.back(run_x, 0.6), width=counter_w, top=top)
    if r.random() < 0.8:
        o.upper_cabinet(b, room.back(run_x, 0.35, y=r.uniform(1.45, 1.6)), width=counter_w)
    if r.random() < 0.6:  # L-shape along a side wall
        length = r.uniform(1.2, room.depth - 1.8)
        o.counter(b, room.side(not fridge_left, room.depth - 0.6 - length / 2, 0.6), width=length, top=top)
    if r.random() < 0.4:
        o.stove(b, room.side(fridge_left, room.depth - 1.4, 0.6))
    if r.random() < 0.4 and room.width > 3.2:
        z = room.depth - r.uniform(2.0, 2.4)
        o.counter(b, Placement(0.0, z, HALF_TURN), width=r.uniform(1.2, 1.8), top=top)
        for sx in (-0.4, 0.4):
            o.stool(b, Placement(sx, z - 0.55), height=0.65)
    return _finish(b, room, WET_WALLS[:1] + HOME_WALLS[:3], WET_FLOORS + ("linoleum_beige",), (1.4, 1.8), (-32, -16))


def library(r) -> Scene:
    room, b = _room(r, (5.0, 9.0), (6.0, 10.0), (2.8, 3.5))
    height = r.uniform(2.0, 2.4)
    n = int(room.width // 1.0)
    for k in range(n):
        x = -room.width / 2 + (k + 0.5) * room.width / n
        o.bookshelf(b, room.back(x, 0.32), width=room.width / n, height=height)
    for left in (True, False):
        if r.random() < 0.7:
            m = int((room.depth - 2.0) // 1.0)
            for k in range(m):
                z = 2.0 + (k + 0.5) * (room.depth - 2.0) / m
                o.bookshelf(b, room.side(left, z, 0.32), width=1.0, height=height)
    if r.random() < 0.6:  # free-standing double shelves, aisles running away from the camera
        aisles = int(r.integers(1, 4))
        for a in range(aisles):
            x = (a - (aisles - 1) / 2) * room.width / (aisles + 1)
            for k in range(int((room.depth - 3.5) // 1.0)):
                for yaw in (-QUARTER, QUARTER):
                    o.bookshelf(b, Placement(x + np.sin(yaw) * 0.17, 3.0 + k * 1.0, yaw), width=1.0, height=height)
    else:
        w, d = o.table(b, Placement(r.uniform(-1, 1), r.uniform(2.8, 3.5)), width=r.uniform(1.6, 2.4), depth=1.0)
        _chairs_around_table(b, 0.0, 3.1, 0.0, w, d, 2, b.material(*o.WOODS), False)
    return _finish(b, room, HOME_WALLS[:2] + ("wood_panel",), ("carpet_grey", "carpet_blue", "carpet_red", "floor_oak"),
                   (1.4, 1.8), (-18, -6))


def living_room(r) -> Scene:
    room, b = _room(r, (4.0, 6.0), (4.0, 6.0), (2.4, 2.9))
    if r.random() < 0.5:  # sofa against a side wall, TV opposite
        left = r.random() < 0.5
        z = r.uniform(2.2, room.depth - 1.5)
        o.sofa(b, room.side(left, z, 0.85))
        o.tv_unit(b, room.side(not left, z, 0.45))
        o.coffee_table(b, Placement((room.width / 2 - 1.6) * (-1 if left else 1), z, QUARTER))
        if r.random() < 0.6:
            o.armchair(b, room.back(r.uniform(-0.5, 0.5), 0.85))
    else:  # sofa against the back wall facing the camera, armchairs at its sides
        x = r.uniform(-0.3, 0.3) * room.width
        o.sofa(b, room.back(x, 0.85))
        o.coffee_table(b, Placement(x, room.depth - 1.6))
        for side in (-1, 1):
            if r.random() < 0.5:
                o.armchair(b, Placement(x + side * 1.7, room.depth - 1.7, -side * QUARTER))
    if r.random() < 0.6:
        o.rug(b, Placement(0.0, room.depth - 1.8), width=2.4, depth=1.8)
    if r.random() < 0.5:
        o.floor_lamp(b, Placement(room.width / 2 - 0.35, room.depth - 0.35))
    if r.random() < 0.5:
        o.plant(b, Placement(-room.width / 2 + 0.35, room.depth - 0.35))
    if r.random() < 0.3:
        o.bookshelf(b, room.side(r.random() < 0.5, 1.5, 0.32))
    return _finish(b, room, HOME_WALLS, HOME_FLOORS, (1.2, 1.7), (-28, -12))


# ---- task-irrelevant classes: other arrangements of the same kinds ----

def office(r) -> Scene:
    room, b = _room(r, (3.0, 5.0), (3.0, 5.0), (2.5, 2.9))
    for k in range(int(r.integers(1, 3))):
        left = k == 0
        z = r.uniform(1.8, room.depth - 1.0)
        o.desk(b, room.side(left, z, 0.6), with_monitor=True)
        o.office_chair(b, Placement((room.width / 2 - 1.0) * (-1 if left else 1), z, (1 if left else -1) * QUARTER))
    for k in range(int(r.integers(1, 4))):
        o.cabinet(b, room.back(-room.width / 2 + 0.5 + k * 0.9, 0.45), width=0.8, height=r.uniform(0.7, 1.3))
    if r.random() < 0.6:
        o.bookshelf(b, room.back(room.width / 2 - 0.6, 0.32))
    if r.random() < 0.4:
        o.plant(b, Placement(0.0, room.depth - 0.5))
    if r.random() < 0.3:
        o.wall_board(b, room.back(0.0, 0.02, y=1.0), width=1.2, kind="whiteboard")
    return _finish(b, room, WORK_WALLS, WORK_FLOORS, (1.3, 1.7), (-30, -15))


def lecture_theatre(r) -> Scene:
    room, b = _room(r, (7.0, 11.0), (8.0, 12.0), (3.5, 4.5))
    rise, depth_per_row = r.uniform(0.15, 0.3), r.uniform(0.9, 1.1)
    run = room.width - 2.0
    chair_mat = b.material(*o.FABRICS, *o.PLASTICS[:3])
    z = r.uniform(2.2, 3.0)
    level = 0
    while z + depth_per_row < room.depth:
        level += 1
        o.platform(b, Placement(0.0, (z + room.depth) / 2), run, room.depth - z, level * rise)
        y = level * rise
        o.desk(b, Placement(0.0, z + 0.75, 0.0, y), width=run, with_monitor=False)
        for k in range(int(run // 0.7)):
            if r.random() < 0.9:
                o.chair(b, Placement(-run / 2 + 0.35 + k * 0.7, z + 0.35, HALF_TURN, y), material=chair_mat)
        z += depth_per_row
    if r.random() < 0.6:
        o.desk(b, Placement(r.uniform(-1.5, 1.5), 1.3, 0.0), with_monitor=r.random() < 0.5)
    return _finish(b, room, WORK_WALLS + ("wood_panel",), ("carpet_grey", "carpet_blue", "linoleum_beige"),
                   (1.3, 1.7), (-5, 8))


def lobby(r) -> Scene:
    room, b = _room(r, (7.0, 11.0), (7.0, 11.0), (3.2, 4.5))
    for k in range(int(r.integers(2, 5))):
        x = r.choice([-1, 1]) * r.uniform(1.5, room.width / 2 - 1.0)
        o.column(b, Placement(x, r.uniform(2.5, room.depth - 1.5)), room.height)
    o.reception_desk(b, room.back(r.uniform(-2, 2), 1.0))
    for k in range(int(r.integers(1, 3))):
        x, z = r.uniform(-2.5, 2.5), r.uniform(2.5, room.depth - 3.0)
        o.coffee_table(b, Placement(x, z))
        o.sofa(b, Placement(x, z + 1.0, HALF_TURN))
        if r.random() < 0.7:
            o.armchair(b, Placement(x - 1.3, z, QUARTER))
    for k in range(int(r.integers(1, 4))):
        o.plant(b, Placement(r.uniform(-room.width / 2 + 0.5, room.width / 2 - 0.5), room.depth - 0.5))
    return _finish(b, room, WORK_WALLS + ("wood_panel",), ("floor_tiles_light", "floor_tiles_dark", "concrete_floor",
                   "floor_oak"), (1.4, 1.8), (-15, -4))


FURNITURE_ITEMS = (o.bed, o.sofa, o.armchair, o.table, o.round_table, o.wardrobe, o.bookshelf, o.desk, o.cabinet,
                   o.floor_lamp, o.plant, o.coffee_table, o.chair, o.tv_unit, o.office_chair, o.nightstand)


def furniture_store(r) -> Scene:
    room, b = _room(r, (6.0, 10.0), (6.0, 10.0), (3.0, 4.0))
    for z in np.arange(2.0, room.depth - 0.8, r.uniform(1.8, 2.6)):
        for x in np.arange(-room.width / 2 + 1.2, room.width / 2 - 0.8, r.uniform(1.8, 2.8)):
            if r.random() < 0.85:
                item = FURNITURE_ITEMS[int(r.integers(len(FURNITURE_ITEMS)))]
                item(b, Placement(x + r.normal(0, 0.2), z + r.normal(0, 0.2),
                                  int(r.integers(4)) * QUARTER + r.normal(0, 0.2)))
    return _finish(b, room, WORK_WALLS, ("concrete_floor", "floor_tiles_light", "linoleum_beige", "floor_oak"),
                   (1.4, 1.8), (-20, -8))


def laundry_room(r) -> Scene:
    room, b = _room(r, (2.0, 3.5), (2.5, 4.0), (2.3, 2.7))
    machines = int(min(r.integers(2, 5), (room.width - 0.3) // 0.65))
    for k in range(machines):
        o.washing_machine(b, room.back(-room.width / 2 + 0.4 + k * 0.65, 0.6))
    if r.random() < 0.5:
        o.upper_cabinet(b, room.back(0.0, 0.35, y=1.5), width=room.width - 0.2)
    if r.random() < 0.6:
        o.washbasin(b, room.side(r.random() < 0.5, r.uniform(1.3, room.depth - 1.0), 0.44), with_mirror=False)
    if r.random() < 0.6:
        o.storage_rack(b, room.side(r.random() < 0.5, room.depth - 1.3, 0.45))
    for k in range(int(r.integers(0, 3))):
        o.carton(b, Placement(r.uniform(-0.6, 0.6), r.uniform(1.4, room.depth - 1.0), r.uniform(0, np.pi)))
    return _finish(b, room, WET_WALLS + ("concrete",), WET_FLOORS + ("concrete_floor",), (1.3, 1.7), (-38, -22))


def storage_room(r) -> Scene:
    room, b = _room(r, (3.0, 6.0), (4.0, 8.0), (2.5, 3.2))
    for left in (True, False):
        z = 1.6
        while z < room.depth - 1.0:
            w, _ = o.storage_rack(b, room.side(left, z + 0.75, 0.5))
            z += w + 0.05
    if r.random() < 0.7:
        x = -room.width / 2 + 1.0
        while x < room.width / 2 - 1.0:
            w, _ = o.storage_rack(b, room.back(x + 0.75, 0.5))
            x += w + 0.05
    for k in range(int(r.integers(2, 9))):  # stacks of cartons on the floor
        x, z = r.uniform(-1.0, 1.0), r.uniform(1.6, room.depth - 1.0)
        y = 0.0
        for level in range(int(r.integers(1, 4))):
            size = (r.uniform(0.35, 0.6), r.uniform(0.25, 0.45), r.uniform(0.35, 0.5))
            o.carton(b, Placement(x + r.normal(0, 0.03), z, r.normal(0, 0.1), y), size=size)
            y += size[1]
    return _finish(b, room, ("concrete", "paint_grey", "paint_white", "brick"), ("concrete_floor", "linoleum_beige"),
                   (1.3, 1.8), (-25, -10))


def restroom(r) -> Scene:
    room, b = _room(r, (3.0, 5.0), (4.0, 6.0), (2.5, 3.0))
    stalls = int(min(r.integers(2, 5), (room.width - 0.2) // 0.95))
    stall_d = r.uniform(1.3, 1.6)
    for k in range(stalls):
        x = -room.width / 2 + 0.1 + (k + 0.5) * 0.95
        o.toilet(b, room.back(x, 0.65))
        o.partition(b, Placement(x + 0.475, room.depth - stall_d / 2), stall_d)
        if r.random() < 0.6:  # the stall's door, closed
            o.partition(b, Placement(x, room.depth - stall_d, QUARTER), 0.9)
    left = r.random() < 0.5
    for k in range(int(r.integers(2, 4))):
        o.washbasin(b, room.side(left, 1.3 + k * 0.8, 0.44))
    return _finish(b, room, WET_WALLS, WET_FLOORS, (1.4, 1.8), (-28, -12))


def break_room(r) -> Scene:
    room, b = _room(r, (3.0, 5.0), (3.0, 5.0), (2.4, 2.8))
    o.fridge(b, room.back(room.width / 2 - 0.45, 0.65))
    run = r.uniform(1.2, room.width - 1.2)
    o.counter(b, room.back(room.width / 2 - 0.9 - run / 2, 0.6), width=run)
    if r.random() < 0.5:
        o.carton(b, Placement(room.width / 2 - 1.3, room.depth - 0.35, 0.0, 0.9), size=(0.5, 0.3, 0.35))
    x, z = r.uniform(-0.5, 0.5), room.depth * r.uniform(0.45, 0.55)
    if r.random() < 0.5:
        o.round_table(b, Placement(x, z))
        for a in np.linspace(0, 2 * np.pi, 4, endpoint=False) + r.uniform(0, 1):
            o.chair(b, Placement(x + np.sin(a) * 0.85, z + np.cos(a) * 0.85, a + HALF_TURN))
    else:
        w, d = o.table(b, Placement(x, z))
        _chairs_around_table(b, x, z, 0.0, w, d, 2, b.material(*o.PLASTICS), False)
    if r.random() < 0.4:
        o.sofa(b, room.side(r.random() < 0.5, r.uniform(1.5, room.depth - 1.5), 0.85))
    return _finish(b, room, HOME_WALLS[:3] + WORK_WALLS[:2], WORK_FLOORS, (1.3, 1.7), (-30, -14))


TR_CLASSES: dict[str, Callable[[np.random.Generator], Scene]] = {
    f.__name__: f for f in (bathroom, bedroom, classroom, computer_room, conference_room, corridor, dining_room,
                            kitchen, library, living_room)
}
TI_CLASSES: dict[str, Callable[[np.random.Generator], Scene]] = {
    f.__name__: f for f in (office, lecture_theatre, lobby, furniture_store, laundry_room, storage_room, restroom,
                            break_room)
}
ALL_CLASSES = {**TR_CLASSES, **TI_CLASSES}


def sample_scene(class_name: str, rng: np.random.Generator) -> Scene:
    """A random scene of the named class."""
    try:
        layout = ALL_CLASSES[class_name]
    except KeyError:
        raise ValueError(f"unknown scene class {class_name!r}; known: {', '.join(ALL_CLASSES)}") from None
    return layout(rng)
