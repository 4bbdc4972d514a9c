"""Front-end assets from the npm registry: Apache ECharts and the China province map.

The pages run on a closed network, so nothing is loaded from a CDN: ``make setup``
runs ``python -m crossinvest.web.assets``, which fetches pinned packages with the
ordinary npm client (``npm pack``, which checks each tarball against the
registry's integrity hash) and installs into ``crossinvest/web/static/vendor/``
(git-ignored; never committed by hand):

- ``echarts.min.js`` from ``echarts@5.6.0`` (with its LICENSE and NOTICE);
- ``china.geo.json``: ``map/json/china.json`` of ``echarts@4.9.0`` (the last
  release that ships maps), decoded from ECharts' compressed "UTF8Encoding" into
  plain GeoJSON, each province carrying its 6-digit GB/T 2260 ``code``;
- ``swagger-ui-bundle.js`` and ``swagger-ui.css`` from ``swagger-ui-dist`` for
  the API documentation page (FastAPI's default loads them from a CDN).

On a build machine without the registry, pass ``--tarballs DIR`` holding the
``*.tgz`` files that ``npm pack`` of ``PACKAGES`` made elsewhere.

>>> decode_ring("@@AA", [0, 0], 1024)
[[0.0, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ECHARTS_VERSION = "5.6.0"
MAP_PACKAGE_VERSION = "4.9.0"
SWAGGER_VERSION = "5.32.0"
# npm package specs, by the role they play here.
PACKAGES = {
    "echarts": f"echarts@{ECHARTS_VERSION}",
    "map": f"echarts@{MAP_PACKAGE_VERSION}",
    "swagger": f"swagger-ui-dist@{SWAGGER_VERSION}",
}
VENDOR_DIR = Path(__file__).parent / "static" / "vendor"
MANIFEST = "manifest.json"
FILES = (
    "echarts.min.js",
    "china.geo.json",
    "ECHARTS-LICENSE",
    "ECHARTS-NOTICE",
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "SWAGGER-LICENSE",
)


def decode_ring(coded: str, offsets: list[int], scale: float) -> list[list[float]]:
    """Decode one ring of ECharts' compressed coordinates (zig-zag deltas in UTF-16 units)."""
    units = coded.encode("utf-16-le")
    codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    out: list[list[float]] = []
    prev_x, prev_y = offsets[0], offsets[1]
    for i in range(0, len(codes) - 1, 2):
        x = codes[i] - 64
        y = codes[i + 1] - 64
        x = (x >> 1) ^ -(x & 1)
        y = (y >> 1) ^ -(y & 1)
        prev_x, prev_y = x + prev_x, y + prev_y
        out.append([prev_x / scale, prev_y / scale])
    return out


def decode_geojson(data: dict[str, Any]) -> dict[str, Any]:
    """Plain GeoJSON from ECharts' compressed map; provinces get ``properties.code``."""
    scale = data.get("UTF8Scale") or 1024
    features = []
    for feat in data["features"]:
        geom = feat["geometry"]
        offsets = geom.get("encodeOffsets")
        coords = geom["coordinates"]
        if data.get("UTF8Encoding") and offsets is not None:
            if geom["type"] == "Polygon":
                coords = [decode_ring(r, o, scale) for r, o in zip(coords, offsets, strict=True)]
            elif geom["type"] == "MultiPolygon":
                coords = [
                    [decode_ring(r, o, scale) for r, o in zip(poly, offs, strict=True)]
                    for poly, offs in zip(coords, offsets, strict=True)
                ]
            else:  # the China map has no other kinds; refuse rather than draw garbage
                raise ValueError(f"unsupported geometry {geom['type']}")
        props = dict(feat.get("properties") or {})
        code = str(props.get("id") or feat.get("id") or "")
        code = (code + "0000")[:6] if len(code) == 2 else code
        props.pop("childNum", None)
        features.append(
            {
                "type": "Feature",
                "id": code,
                "properties": {"code": code, "name": props.get("name"), "cp": props.get("cp")},
                "geometry": {"type": geom["type"], "coordinates": coords},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _check_map(geo: dict[str, Any]) -> None:
    """Guard against a bad decode: every province, every point inside China's bounding box."""
    codes = {f["properties"]["code"] for f in geo["features"]}
    for must in ("110000", "310000", "330000", "650000"):
        if must not in codes:
            raise ValueError(f"map lacks province {must}")
    for f in geo["features"]:
        polys = f["geometry"]["coordinates"]
        if f["geometry"]["type"] == "Polygon":
            polys = [polys]
        for poly in polys:
            for ring in poly:
                for lon, lat in ring:
                    if not (70 <= lon <= 140 and 0 <= lat <= 56):
                        raise ValueError(f"point {lon},{lat} of {f['id']} outside China")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed(dest: Path = VENDOR_DIR) -> bool:
    """True when ``dest`` holds this version's assets, unaltered."""
    man = dest / MANIFEST
    if not man.exists():
        return False
    try:
        meta = json.loads(man.read_text())
    except ValueError:
        return False
    if meta.get("packages") != PACKAGES:
        return False
    return all((dest / f).exists() and _sha256(dest / f) == meta["sha256"].get(f) for f in FILES)


def _fetch(tmp: Path, tarballs: Path | None) -> dict[str, Path]:
    # npm pack names a tarball <name>-<version>.tgz
    names = {k: spec.replace("@", "-") + ".tgz" for k, spec in PACKAGES.items()}
    if tarballs is None:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("需要 npm 来安装 ECharts（apt-get install -y npm）")
        subprocess.run(
            [npm, "pack", "--silent", *PACKAGES.values()],
            cwd=tmp,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return {k: tmp / v for k, v in names.items()}
    return {k: tarballs / v for k, v in names.items()}


def _extract(tgz: Path, members: list[str], to: Path) -> None:
    with tarfile.open(tgz) as tar:
        for name in members:
            src = tar.extractfile(f"package/{name}")
            if src is None:
                raise RuntimeError(f"{tgz.name} lacks {name}")
            (to / Path(name).name).write_bytes(src.read())


def install_assets(
    dest: Path = VENDOR_DIR, *, force: bool = False, tarballs: Path | None = None
) -> dict:
    """Install ECharts and the decoded China map into ``dest``; a no-op when already there."""
    if not force and installed(dest):
        return {"installed": False, "dest": str(dest), "echarts": ECHARTS_VERSION}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        tgz = _fetch(tmp, tarballs)
        work = tmp / "out"
        work.mkdir()
        _extract(tgz["echarts"], ["dist/echarts.min.js", "LICENSE", "NOTICE"], work)
        _extract(tgz["map"], ["map/json/china.json"], work)
        (work / "swagger").mkdir()
        _extract(
            tgz["swagger"], ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"], work / "swagger"
        )
        geo = decode_geojson(json.loads((work / "china.json").read_text(encoding="utf-8")))
        _check_map(geo)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "echarts.min.js", dest / "echarts.min.js")
        shutil.copyfile(work / "LICENSE", dest / "ECHARTS-LICENSE")
        shutil.copyfile(work / "NOTICE", dest / "ECHARTS-NOTICE")
        for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
            shutil.copyfile(work / "swagger" / name, dest / name)
        shutil.copyfile(work / "swagger" / "LICENSE", dest / "SWAGGER-LICENSE")
        (dest / "china.geo.json").write_text(
            json.dumps(geo, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
    meta = {
        "packages": PACKAGES,
        "sha256": {f: _sha256(dest / f) for f in FILES},
    }
    (dest / MANIFEST).write_text(json.dumps(meta, indent=1))
    return {"installed": True, "dest": str(dest), "echarts": ECHARTS_VERSION}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="安装前端资源（ECharts、中国地图）")
    parser.add_argument("--force", action="store_true", help="重新安装")
    parser.add_argument("--tarballs", type=Path, help="离线：含 npm pack 所得 *.tgz 的目录")
    parser.add_argument("--dest", type=Path, default=VENDOR_DIR)
    args = parser.parse_args(argv)
    result = install_assets(args.dest, force=args.force, tarballs=args.tarballs)
    state = "已安装" if result["installed"] else "已是最新"
    print(f"ECharts {result['echarts']} 与中国地图{state}：{result['dest']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
