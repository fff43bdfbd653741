"""Writes synthetic Visual Genome annotation files in the real format and at the real scale
(108,077 images, ~2.3 million attribute records and ~2.3 million relationships, ~1 GB), with the
real files' extra fields, for benches/datasets_vs_python.sh.

Usage: make_vg.py OUT_DIR [IMAGES]
"""
import json
import pathlib
import random
import sys

out = pathlib.Path(sys.argv[1])
n_images = int(sys.argv[2]) if len(sys.argv) > 2 else 108077
out.mkdir(parents=True, exist_ok=True)
rng = random.Random(0)
nouns = [f"{w}.n.0{rng.randint(1, 3)}" for w in (
    "man woman person dog cat horse car tree sky grass shirt hat table plate window building street "
    "sign pole light wall floor ground water cloud road wheel door leg hand head hair face ear eye "
    "nose mouth arm jacket pants shoe boat bus train plane bird zebra giraffe elephant bear bench "
    "chair umbrella kite surfboard skateboard pizza cake banana apple orange bowl cup bottle").split()]
nouns += [f"thing{i}.n.01" for i in range(3000)]
adjectives = ("white black red blue green yellow brown gray orange pink purple large small tall short "
              "wooden metal glass open closed wet dry old young happy striped dark bright").split()
adjectives += [f"adj{i}" for i in range(2000)]
predicates = ["ON", "has", "wearing", "of", "in", "near", "behind", "holding", "riding", "sitting on",
              "next to", "above", "under", "standing on", "in front of", "Parked On"]
oid = 1


def obj():
    global oid
    oid += 1
    k = rng.choices((0, 1, 2), (5, 90, 5))[0]
    syn = rng.sample(nouns, k)
    return {"h": rng.randint(1, 500), "object_id": oid, "merged_object_ids": [], "synsets": syn,
            "w": rng.randint(1, 500), "y": rng.randint(0, 500), "x": rng.randint(0, 500),
            "names": [s.split(".")[0] for s in syn] or ["thing"]}


with open(out / "attributes.json", "w") as fa, open(out / "relationships.json", "w") as fr:
    fa.write("[")
    fr.write("[")
    for i in range(1, n_images + 1):
        attrs = []
        for _ in range(rng.randint(10, 32)):
            o = obj()
            if rng.random() < 0.8:
                o["attributes"] = [rng.choice(adjectives) + rng.choice(("", "", " ", "\n"))
                                   for _ in range(rng.choices((0, 1, 2, 3), (10, 60, 25, 5))[0])]
            attrs.append(o)
        rels = [{"predicate": rng.choice(predicates), "object": obj(), "relationship_id": oid + j,
                 "synsets": ["along.r.01"], "subject": obj()} for j in range(rng.randint(10, 32))]
        sep = "," if i > 1 else ""
        fa.write(sep + json.dumps({"image_id": i, "attributes": attrs}))
        fr.write(sep + json.dumps({"image_id": i, "relationships": rels}))
    fa.write("]")
    fr.write("]")
print(f"wrote {out}/attributes.json, relationships.json ({n_images} images)")
