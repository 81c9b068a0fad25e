"""Procedurally drawn CelebA-like faces whose attributes can be seen in the picture.

`sample_face` draws the 40 labels with rates near CelebA's and its main correlations
(Male against makeup, lipstick, beards and earrings; Young against grey hair, baldness,
bags under the eyes; Smiling with an open mouth and high cheekbones). `draw_face` paints
them big and high-contrast, so that they survive a 32x32 resize, then varies position,
scale, rotation, lighting, noise and background so that a model cannot learn them
perfectly. Attractive, High_Cheekbones and Young (beyond wrinkles and grey hair) are only
labels, not drawn. Everything comes from the given generator, so a seed fixes the picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from data.attributes import CELEBA_ATTRIBUTES

__all__ = ["HEIGHT", "LABEL_ONLY_ATTRIBUTES", "WIDTH", "Face", "draw_face", "sample_face"]

WIDTH, HEIGHT = 178, 218  # CelebA's aligned image size
# Labels that the picture does not show (Young only partly, through grey hair and wrinkles).
LABEL_ONLY_ATTRIBUTES = ("Attractive", "High_Cheekbones", "Young")

_HAIR_COLOURS = {
    "black": (28, 22, 22),
    "brown": (105, 62, 32),
    "blond": (226, 192, 100),
    "gray": (178, 178, 182),
    "other": (150, 62, 30),  # auburn: a colour CelebA has no label for
}
_SKIN = np.array([(236, 200, 172), (222, 176, 140), (196, 140, 100), (150, 98, 66), (100, 66, 46)])
_PALE_SKIN = (250, 238, 232)
_COARSE_Y, _COARSE_X = (
    np.mgrid[0:HEIGHT:8, 0:WIDTH:8] - np.array([HEIGHT, WIDTH])[:, None, None] / 2
)
_HALF_DIAGONAL = math.hypot(WIDTH, HEIGHT) / 2
_NOISE_MARGIN = 32


def _noise_bank() -> list[Image.Image]:
    """Fixed sensor-noise images (mean 128) of a few strengths; cropped at random offsets."""
    rng = np.random.default_rng(12345)
    shape = (HEIGHT + _NOISE_MARGIN, WIDTH + _NOISE_MARGIN, 3)
    return [
        Image.fromarray(np.clip(128 + rng.normal(0, sigma, shape), 0, 255).astype(np.uint8))
        for sigma in (2.0, 3.5, 5.0, 6.5)
    ]


_NOISE = _noise_bank()


@dataclass(frozen=True)
class Face:
    """The 40 labels of one synthetic face plus the drawing choices no label names."""

    attrs: dict[str, bool]
    hair: str  # key of _HAIR_COLOURS, or "none" when bald
    long_hair: bool
    full_beard: bool
    sunglasses: bool

    def labels(self) -> np.ndarray:
        """(40,) uint8 0/1 in CELEBA_ATTRIBUTES order."""
        return np.array([self.attrs[name] for name in CELEBA_ATTRIBUTES], dtype=np.uint8)


@dataclass(frozen=True)
class _Basics:
    """The first draws of a face: the ones that other labels depend on."""

    male: bool
    young: bool
    smiling: bool
    bald: bool
    hair: str
    wavy: bool
    makeup: bool
    chubby: bool
    full_beard: bool
    goatee: bool
    big_nose: bool


def sample_face(rng: np.random.Generator) -> Face:
    """Labels with CelebA-like rates and correlations."""

    def chance(p: float) -> bool:
        return bool(rng.random() < p)

    basics = _sample_basics(rng, chance)
    # The draws run in one fixed order (these calls, in turn), so a seed keeps its faces.
    attrs = _head_labels(chance, basics)
    attrs |= _wear_labels(chance, basics)
    attrs |= _look_labels(chance, basics)
    return Face(
        attrs=attrs,
        hair=basics.hair,
        long_hair=not basics.bald and chance(0.10 if basics.male else 0.85),
        full_beard=basics.full_beard,
        sunglasses=chance(0.2),
    )


def _sample_basics(rng: np.random.Generator, chance) -> _Basics:
    male = chance(0.417)
    young = chance(0.774)
    smiling = chance(0.482)
    bald = male and chance(0.03 if young else 0.12)
    if bald:
        hair = "none"
    elif chance(0.012 if young else 0.16):
        hair = "gray"
    else:
        blond = 0.03 if male else 0.24
        weights = np.array([0.255, 0.22, blond, 0.50 - blond])
        hair = str(rng.choice(["black", "brown", "blond", "other"], p=weights / weights.sum()))
    return _Basics(
        male=male,
        young=young,
        smiling=smiling,
        bald=bald,
        hair=hair,
        wavy=not bald and chance(0.15 if male else 0.45),
        makeup=not male and chance(0.66),
        chubby=chance(0.04 if young else 0.12),
        full_beard=male and chance(0.29),
        goatee=male and chance(0.15),
        big_nose=chance(0.40 if male else 0.115),
    )


def _head_labels(chance, b: _Basics) -> dict[str, bool]:
    return {
        "Male": b.male,
        "Young": b.young,
        "Smiling": b.smiling,
        "Mouth_Slightly_Open": chance(0.70 if b.smiling else 0.27),
        "High_Cheekbones": chance(0.78 if b.smiling else 0.15),
        "Bald": b.bald,
        "Receding_Hairline": not b.bald and chance(0.05 if b.young else 0.2),
        "Gray_Hair": b.hair == "gray",
        "Black_Hair": b.hair == "black",
        "Brown_Hair": b.hair == "brown",
        "Blond_Hair": b.hair == "blond",
        "Bangs": not b.bald and chance(0.12 if b.male else 0.18),
        "Wavy_Hair": b.wavy,
        "Straight_Hair": not b.bald and not b.wavy and chance(0.31),
    }


def _wear_labels(chance, b: _Basics) -> dict[str, bool]:
    """Accessories, make-up and facial hair."""
    male = b.male
    return {
        "Wearing_Hat": chance(0.048),
        "Eyeglasses": chance(0.10 if male else 0.04),
        "Heavy_Makeup": b.makeup,
        "Wearing_Lipstick": chance(0.01 if male else (0.97 if b.makeup else 0.52)),
        "Wearing_Earrings": chance(0.03 if male else 0.30),
        "Wearing_Necklace": chance(0.02 if male else 0.20),
        "Wearing_Necktie": chance(0.165 if male else 0.005),
        "Goatee": b.goatee,
        "Mustache": male and chance(0.35 if b.goatee else 0.056),
        "No_Beard": not (b.full_beard or b.goatee),
        "5_o_Clock_Shadow": male and not b.full_beard and chance(0.375),
        "Sideburns": male and chance(0.30 if b.full_beard else 0.07),
    }


def _look_labels(chance, b: _Basics) -> dict[str, bool]:
    """Skin, eyes, nose, face shape and the picture itself."""
    male, young = b.male, b.young
    return {
        "Pale_Skin": chance(0.043),
        "Rosy_Cheeks": chance(0.02 if male else 0.10),
        "Blurry": chance(0.051),
        "Bushy_Eyebrows": chance(0.25 if male else 0.065),
        "Arched_Eyebrows": chance(0.05 if male else 0.42),
        "Narrow_Eyes": chance(0.115),
        "Big_Nose": b.big_nose,
        "Pointy_Nose": not b.big_nose and chance(0.20 if male else 0.43),
        "Chubby": b.chubby,
        "Double_Chin": chance(0.5 if b.chubby else 0.02),
        "Big_Lips": chance(0.16 if male else 0.30),
        "Bags_Under_Eyes": chance(0.15 if young else 0.39),
        "Oval_Face": chance(0.284),
        "Attractive": chance((0.45 if male else 0.75) if young else 0.2),
    }


def _jitter(rng: np.random.Generator, colour, amount: float) -> tuple[int, int, int]:
    values = np.asarray(colour, dtype=np.float64) + rng.normal(0.0, amount, 3)
    return tuple(int(v) for v in np.clip(values, 0, 255))


def _shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, c * factor)) for c in colour[:3])


def _arc_points(cx: float, cy: float, a: float, b: float, t0: float, t1: float, n: int = 20):
    angles = np.linspace(t0, t1, n)
    xs, ys = (cx + a * np.cos(angles)).tolist(), (cy + b * np.sin(angles)).tolist()
    return list(zip(xs, ys, strict=True))


def draw_face(rng: np.random.Generator, face: Face) -> Image.Image:
    """A 178x218 RGB picture of `face` on a random background."""
    person = Image.new("RGB", (WIDTH, HEIGHT))
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    _draw_person(rng, face, ImageDraw.Draw(person, "RGBA"), ImageDraw.Draw(mask))
    picture = _background(rng)
    angle = math.radians(rng.normal(0.0, 7.0))
    scale = rng.uniform(0.88, 1.12)
    shift_x, shift_y = rng.normal(0.0, 6.0, 2)
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    cx, cy = WIDTH / 2 + shift_x, HEIGHT / 2 + shift_y
    # output pixel (x, y) -> person pixel: rotate and scale about the (shifted) centre
    matrix = (
        cos,
        sin,
        WIDTH / 2 - cos * cx - sin * cy,
        -sin,
        cos,
        HEIGHT / 2 + sin * cx - cos * cy,
    )
    person.putalpha(mask)
    person = person.transform(
        picture.size, Image.Transform.AFFINE, matrix, Image.Resampling.BILINEAR
    )
    picture.paste(person, (0, 0), person)
    picture = _light(rng, picture)
    if face.attrs["Blurry"]:
        picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(3.5, 5.5)))
    return picture


def _ramp(angle: float, low: float, high: float) -> np.ndarray:
    """A coarse (H/8, W/8) linear ramp from `low` to `high` along direction `angle`."""
    along = _COARSE_X * math.cos(angle) + _COARSE_Y * math.sin(angle)
    return low + (high - low) * (along / _HALF_DIAGONAL + 1.0) / 2.0


def _smooth(coarse: np.ndarray) -> Image.Image:
    """Upsample a coarse uint8 field to full size; smooth fields need no more detail."""
    image = Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8))
    return image.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)


def _background(rng: np.random.Generator) -> Image.Image:
    first, second = rng.integers(20, 236, (2, 3))
    ramp = _ramp(rng.uniform(0, 2 * math.pi), 0.0, 1.0)[..., None]
    picture = _smooth(first + ramp * (second - first))
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.integers(1, 4))):
        x, y = rng.uniform(-40, WIDTH), rng.uniform(-40, HEIGHT)
        w, h = rng.uniform(20, 90, 2)
        colour = tuple(int(c) for c in rng.integers(40, 216, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + w, y + h], fill=colour)
    return picture


def _light(rng: np.random.Generator, picture: Image.Image) -> Image.Image:
    """Brightness and colour cast, light falling from one side, and sensor noise."""
    gains = rng.uniform(0.75, 1.2) * rng.uniform(0.92, 1.08, 3)
    table = np.minimum(255, np.arange(256)[None, :] * gains[:, None]).astype(np.uint8)
    picture = picture.point(table.ravel().tolist())
    shade = _ramp(rng.uniform(0, 2 * math.pi), 255 * (1.0 - rng.uniform(0.0, 0.45)), 255)
    picture = ImageChops.multiply(picture, _smooth(shade).convert("RGB"))
    noise = _NOISE[int(rng.integers(len(_NOISE)))]
    x, y = rng.integers(0, _NOISE_MARGIN, 2)
    noise = noise.crop((int(x), int(y), int(x) + WIDTH, int(y) + HEIGHT))
    return ImageChops.add(picture, noise, scale=1.0, offset=-128)


@dataclass(frozen=True)
class _Frame:
    """Where the parts of one face go, and its colours."""

    cx: float
    cy: float
    fa: float  # face half width
    fb: float  # face half height
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]

    @property
    def chin(self) -> float:
        return self.cy + self.fb

    @property
    def eye_y(self) -> float:
        return self.cy - 6

    @property
    def eye_dx(self) -> float:
        return 0.42 * self.fa

    @property
    def mouth_y(self) -> float:
        return self.cy + 0.55 * self.fb

    @property
    def dark_hair(self) -> tuple[int, int, int]:
        return _shade(self.hair, 0.6)


@dataclass(frozen=True)
class _Canvas:
    """The picture and the person's silhouette, painted together where a part is opaque."""

    draw: ImageDraw.ImageDraw
    mask: ImageDraw.ImageDraw

    def both(self, shape: str, box, colour, *angles: float) -> None:
        getattr(self.draw, shape)(box, *angles, fill=colour)
        getattr(self.mask, shape)(box, *angles, fill=255)


def _draw_person(
    rng: np.random.Generator, face: Face, draw: ImageDraw.ImageDraw, mask: ImageDraw.ImageDraw
) -> None:
    """Paint the person in a fixed frame, back to front; `mask` gets the silhouette.

    Every part draws from `rng` in this fixed order, so a seed keeps its pictures.
    """
    a = face.attrs
    fa, fb = rng.uniform(34, 40), rng.uniform(47, 53)
    if a["Chubby"]:
        fa += 9
    if a["Oval_Face"]:
        fa -= 3
        fb += 5
    skin = _PALE_SKIN if a["Pale_Skin"] else _SKIN[rng.integers(len(_SKIN))]
    skin = _jitter(rng, skin, 6)
    hair = _jitter(rng, _HAIR_COLOURS.get(face.hair, (0, 0, 0)), 10)
    frame = _Frame(cx=WIDTH / 2, cy=104.0, fa=fa, fb=fb, skin=skin, hair=hair)
    canvas = _Canvas(draw, mask)
    _body(rng, face, canvas, frame)
    _ears(rng, face, canvas, frame)
    _head(rng, face, canvas, frame)
    _facial_hair(face, draw, frame)
    f = frame
    _eyes(rng, draw, a, f.cx, f.eye_y, f.eye_dx, f.skin, f.hair)
    _nose(draw, a, f.cx, f.eye_y, f.cy, f.skin)
    if a["Mustache"]:
        cx, y = f.cx, f.mouth_y
        draw.polygon(
            [(cx - 15, y - 9), (cx + 15, y - 9), (cx + 18, y - 2), (cx - 18, y - 2)],
            fill=f.dark_hair,
        )
    _mouth(rng, draw, a, f.cx, f.mouth_y, f.skin)
    if a["Rosy_Cheeks"]:
        for side in (-1, 1):
            x, y = f.cx + side * (f.eye_dx + 3), f.eye_y + 19
            draw.ellipse([x - 10, y - 7, x + 10, y + 7], fill=(235, 50, 70, 150))
    if a["Eyeglasses"]:
        _glasses(rng, draw, face.sunglasses, f.cx, f.eye_y, f.eye_dx, f.fa)
    if a["Wearing_Hat"]:
        _hat(rng, canvas, f)


def _body(rng: np.random.Generator, face: Face, canvas: _Canvas, f: _Frame) -> None:
    """Shoulders, long hair behind them, the neck, a necktie and a necklace."""
    a, draw, cx, chin = face.attrs, canvas.draw, f.cx, f.chin
    clothes = _jitter(rng, rng.integers(20, 236, 3), 0)
    width = 78 + (12 if a["Chubby"] else 0)
    canvas.both("ellipse", [cx - width, chin + 16, cx + width, chin + 170], clothes)
    if face.long_hair:
        _long_hair(draw, canvas.mask, cx, f.cy, f.fa, f.fb, f.hair, f.dark_hair, a["Wavy_Hair"])
    neck = [cx - 0.45 * f.fa, f.cy + 0.5 * f.fb, cx + 0.45 * f.fa, chin + 34]
    canvas.both("rectangle", neck, _shade(f.skin, 0.92))
    if a["Wearing_Necktie"]:
        draw.polygon(
            [(cx - 20, chin + 18), (cx + 20, chin + 18), (cx, chin + 44)], fill=(245,) * 3
        )
        tie = _jitter(rng, [(150, 20, 30), (20, 40, 140), (20, 20, 20)][rng.integers(3)], 15)
        draw.polygon(
            [(cx - 6, chin + 22), (cx + 6, chin + 22), (cx + 11, chin + 80), (cx, chin + 92),
             (cx - 11, chin + 80)],
            fill=tie,
        )  # fmt: skip
    if a["Wearing_Necklace"]:
        metal = _jitter(rng, (235, 195, 60) if rng.random() < 0.6 else (225, 225, 235), 8)
        draw.arc([cx - 0.75 * f.fa, chin - 12, cx + 0.75 * f.fa, chin + 30], 15, 165, metal, 4)
        draw.ellipse([cx - 5, chin + 24, cx + 5, chin + 34], fill=metal)


def _ears(rng: np.random.Generator, face: Face, canvas: _Canvas, f: _Frame) -> None:
    for side in (-1, 1):
        ear_x, eye_y = f.cx + side * f.fa, f.eye_y
        canvas.both("ellipse", [ear_x - 7, eye_y - 4, ear_x + 7, eye_y + 20], f.skin)
        if face.attrs["Wearing_Earrings"]:
            metal = _jitter(rng, (240, 200, 40) if rng.random() < 0.6 else (230, 230, 240), 8)
            canvas.draw.ellipse([ear_x - 6, eye_y + 18, ear_x + 6, eye_y + 30], fill=metal)


def _head(rng: np.random.Generator, face: Face, canvas: _Canvas, f: _Frame) -> None:
    """Hair behind the head, the face, a double chin, wrinkles and the hair on the forehead."""
    a, draw, cx, cy, fa, fb = face.attrs, canvas.draw, f.cx, f.cy, f.fa, f.fb
    if face.hair != "none":
        canvas.both("ellipse", [cx - fa - 7, cy - fb - 11, cx + fa + 7, cy + 0.3 * fb], f.hair)
    canvas.both("ellipse", [cx - fa, cy - fb, cx + fa, cy + fb], f.skin)
    if a["Double_Chin"]:
        box = [cx - 0.5 * fa, f.chin - 16, cx + 0.5 * fa, f.chin + 8]
        draw.arc(box, 15, 165, _shade(f.skin, 0.7), 4)
    if not a["Young"] and rng.random() < 0.8:
        for row in range(3):
            y = cy - 0.62 * fb + 6 * row
            draw.arc([cx - 0.5 * fa, y, cx + 0.5 * fa, y + 8], 200, 340, _shade(f.skin, 0.72), 2)
    if face.hair != "none":
        receding, bangs = a["Receding_Hairline"], a["Bangs"]
        _forehead_hair(draw, cx, cy, fa, fb, f.hair, receding, bangs, f.eye_y)


def _facial_hair(face: Face, draw: ImageDraw.ImageDraw, f: _Frame) -> None:
    a, cx, cy, fa, fb = face.attrs, f.cx, f.cy, f.fa, f.fb
    if a["5_o_Clock_Shadow"]:
        points = _arc_points(cx, cy, fa, fb, 0.08 * math.pi, 0.92 * math.pi)
        draw.polygon(points, fill=(40, 30, 30, 110))
    if face.full_beard:
        outer = _arc_points(cx, cy + 2, fa + 1, fb + 5, 0.02 * math.pi, 0.98 * math.pi)
        inner = [(cx - 0.6 * fa, cy + 0.2 * fb), (cx + 0.6 * fa, cy + 0.2 * fb)]
        draw.polygon(outer + inner, fill=f.dark_hair)
    if a["Goatee"]:
        box = [cx - 0.32 * fa, f.mouth_y + 5, cx + 0.32 * fa, f.chin + 5]
        draw.ellipse(box, fill=f.dark_hair)
    if a["Sideburns"]:
        for side in (-1, 1):
            x = cx + side * (fa - 5)
            draw.rectangle([x - 5, f.eye_y - 8, x + 5, f.eye_y + 26], fill=f.dark_hair)


def _hat(rng: np.random.Generator, canvas: _Canvas, f: _Frame) -> None:
    cx, cy, fa, fb = f.cx, f.cy, f.fa, f.fb
    colour = _jitter(rng, rng.integers(10, 246, 3), 0)
    brim_y = cy - 0.5 * fb
    canvas.both("chord", [cx - fa - 8, cy - fb - 34, cx + fa + 8, brim_y + 24], colour, 180, 360)
    brim = [cx - fa - 24, brim_y - 5, cx + fa + 24, brim_y + 9]
    canvas.both("ellipse", brim, _shade(colour, 0.7))


def _long_hair(draw, mask, cx, cy, fa, fb, hair, dark_hair, wavy: bool) -> None:
    top = _arc_points(cx, cy - 8, fa + 12, fb + 6, math.pi, 2 * math.pi, 16)
    bottom = cy + fb + 38
    sides = np.linspace(cy - 8, bottom, 10)
    wave = 5 * np.sin(sides / 7.0) if wavy else np.zeros_like(sides)
    right = [(cx + fa + 16 + w, y) for y, w in zip(sides.tolist(), wave.tolist(), strict=True)]
    left = [(cx - fa - 16 - w, y) for y, w in zip(sides.tolist(), wave.tolist(), strict=True)]
    outline = top + right + left[::-1]
    draw.polygon(outline, fill=hair)
    mask.polygon(outline, fill=255)
    for offset in (-fa - 10, -fa - 3, fa + 3, fa + 10):
        strand = [(cx + offset + w, y) for y, w in zip(sides.tolist(), wave.tolist(), strict=True)]
        draw.line(strand, fill=dark_hair, width=2)


def _forehead_hair(draw, cx, cy, fa, fb, hair, receding: bool, bangs: bool, eye_y) -> None:
    """Hair over the top of the face down to the hairline, and a jagged fringe for bangs."""
    line = 0.78 if receding else 0.52
    t = math.asin(line)
    points = _arc_points(cx, cy, fa + 1, fb + 1, math.pi + t, 2 * math.pi - t)
    if receding:
        points.append((cx, cy - 0.62 * fb))  # widow's peak between receded temples
    draw.polygon(points, fill=hair)
    if bangs:
        fringe_y = eye_y - 15
        teeth = np.linspace(cx - 0.88 * fa, cx + 0.88 * fa, 9)
        jag = [(x, fringe_y + (5 if i % 2 else -3)) for i, x in enumerate(teeth.tolist())]
        top = _arc_points(cx, cy, fa + 1, fb + 1, 1.15 * math.pi, 1.85 * math.pi)
        draw.polygon(top + jag[::-1], fill=hair)


def _eyes(rng, draw, a, cx, eye_y, eye_dx, skin, hair) -> None:
    iris = _jitter(rng, [(60, 40, 25), (40, 90, 150), (60, 110, 60)][rng.integers(3)], 10)
    shadow = _jitter(rng, [(120, 40, 140), (40, 60, 150), (70, 30, 30)][rng.integers(3)], 15)
    half_height = 1.8 if a["Narrow_Eyes"] else 4.8
    brow = _shade(hair, 0.7) if hair[0] < 150 else (90, 70, 50)
    for side in (-1, 1):
        x = cx + side * eye_dx
        if a["Heavy_Makeup"]:
            draw.ellipse([x - 12, eye_y - 10, x + 12, eye_y + 4], fill=shadow + (210,))
        if a["Bags_Under_Eyes"]:
            draw.arc([x - 9, eye_y - 2, x + 9, eye_y + 11], 20, 160, _shade(skin, 0.65), 3)
        draw.ellipse([x - 8, eye_y - half_height, x + 8, eye_y + half_height], fill=(245,) * 3)
        radius = min(3.8, half_height + 0.4)
        draw.ellipse([x - radius, eye_y - radius, x + radius, eye_y + radius], fill=iris)
        if a["Heavy_Makeup"]:
            draw.arc([x - 9, eye_y - half_height - 1, x + 9, eye_y + half_height + 1], 180, 360,
                     (15, 10, 10), 2)  # fmt: skip
        brow_y = eye_y - 11
        if a["Arched_Eyebrows"]:
            line = [(x - 10 * side, brow_y + 3), (x, brow_y - 4), (x + 10 * side, brow_y + 2)]
        else:
            line = [(x - 10 * side, brow_y), (x + 10 * side, brow_y - 1)]
        draw.line(line, fill=brow, width=6 if a["Bushy_Eyebrows"] else 2)


def _nose(draw, a, cx, eye_y, cy, skin) -> None:
    half, tip = (
        (10, cy + 20) if a["Big_Nose"] else ((3.5, cy + 19) if a["Pointy_Nose"] else (6, cy + 15))
    )
    outline = _shade(skin, 0.6)
    draw.polygon([(cx, eye_y + 2), (cx - half, tip), (cx + half, tip)], fill=_shade(skin, 0.86))
    draw.line([(cx, eye_y + 2), (cx - half, tip), (cx + half, tip)], fill=outline, width=2)
    nostril = 3 if a["Big_Nose"] else 2
    for side in (-1, 1):
        x = cx + side * half * 0.55
        draw.ellipse(
            [x - nostril, tip - nostril - 1, x + nostril, tip + nostril - 1], fill=outline
        )


def _mouth(rng, draw, a, cx, y, skin) -> None:
    if a["Wearing_Lipstick"]:
        lips = _jitter(rng, (200, 20, 45), 15)
    else:
        lips = _shade((skin[0], skin[1] * 0.8, skin[2] * 0.8), 0.8)
    thick = 7 if a["Big_Lips"] else 4
    width = 20 if a["Smiling"] else 12
    inside = (60, 15, 20)
    if a["Smiling"]:
        box = [cx - width, y - 16, cx + width, y + 11]
        if a["Mouth_Slightly_Open"]:
            draw.chord(box, 0, 180, fill=lips)
            inner = [cx - width + thick, y - 16 + thick, cx + width - thick, y + 11 - thick]
            draw.chord(inner, 0, 180, fill=inside)
            draw.rectangle([cx - width + thick + 2, y - 1, cx + width - thick - 2, y + 2],
                           fill=(240, 240, 235))  # fmt: skip
        else:
            draw.arc(box, 10, 170, lips, thick + 1)
    else:
        opening = 6 if a["Mouth_Slightly_Open"] else 0
        draw.ellipse(
            [cx - width, y - thick / 2 - 1, cx + width, y + thick / 2 + opening], fill=lips
        )
        if opening:
            draw.ellipse([cx - width + 4, y - 1, cx + width - 4, y + opening], fill=inside)


def _glasses(rng, draw, sunglasses: bool, cx, eye_y, eye_dx, fa) -> None:
    frame = _jitter(rng, (20, 20, 25) if rng.random() < 0.7 else (150, 40, 40), 10)
    lens = (25, 25, 35, 235) if sunglasses else None
    for side in (-1, 1):
        x = cx + side * eye_dx
        draw.ellipse([x - 13, eye_y - 10, x + 13, eye_y + 10], fill=lens, outline=frame, width=4)
        draw.line([(x + 13 * side, eye_y - 3), (cx + side * (fa + 2), eye_y - 5)], frame, 3)
    draw.line([(cx - eye_dx + 13, eye_y - 3), (cx + eye_dx - 13, eye_y - 3)], frame, 3)
