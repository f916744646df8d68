#!/usr/bin/env python3
# Writes the seed corpus of fuzz_readers (tests/fuzz/corpus/): small valid and invalid files, each
# preceded by the selector byte (bit 0: matrix, bit 1: PETSc binary). Rerun after changing it:
#   python3 tests/fuzz/make_corpus.py
import os, struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
MM_VEC, MM_MAT, BIN_VEC, BIN_MAT = 0, 1, 2, 3

def put(name, sel, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    with open(os.path.join(here, name), "wb") as f:
        f.write(bytes([sel]) + payload)

B = "%%MatrixMarket matrix "
put("mm_vec_array", MM_VEC, B + "array real general\n3 1\n1\n-inf\nnan\n")
put("mm_vec_coord", MM_VEC, B + "coordinate real general\n6 1 2\n2 1 2.5\n6 1 -1\n")
put("mm_vec_row", MM_VEC, B + "array integer general\n1 3\n7\n8\n-9\n")
put("mm_mat_general", MM_MAT, B + "coordinate real general\n% c\n3 3 4\n1 1 2\n2 1 -1\n3 3 4.5e-3\n1 3 1\n")
put("mm_mat_sym", MM_MAT, B + "coordinate real symmetric\n3 3 3\n1 1 2\n2 1 -1\n3 2 1\n")
put("mm_mat_skew", MM_MAT, B + "coordinate integer skew-symmetric\n3 3 2\n2 1 3\n3 1 -1\n")
put("mm_mat_array_sym", MM_MAT, B + "array real symmetric\n2 2\n1\n2\n3\n")
put("mm_mat_array_skew", MM_MAT, B + "array real skew-symmetric\n3 3\n1\n2\n3\n")
put("mm_bad_dup", MM_MAT, B + "coordinate real general\n2 2 2\n1 1 1\n1 1 2\n")
put("mm_bad_upper", MM_MAT, B + "coordinate real symmetric\n2 2 1\n1 2 1\n")
put("mm_bad_huge", MM_MAT, B + "coordinate real general\n2147483647 2147483647 1\n1 1 1\n")
put("mm_bad_bytes", MM_VEC, B + "array real general\n3 1\n1\x00\n\xff\n2\n")
put("mm_bad_trunc", MM_VEC, B + "array real general\n4 1\n1\n")

def ints(*v):
    return struct.pack(">%di" % len(v), *v)

def dbls(*v):
    return struct.pack(">%dd" % len(v), *v)

put("bin_vec", BIN_VEC, ints(1211214, 3) + dbls(1.0, -0.0, float("inf")))
put("bin_vec_empty", BIN_VEC, ints(1211214, 0))
put("bin_mat", BIN_MAT, ints(1211216, 3, 3, 4) + ints(2, 1, 1) + ints(0, 2, 1, 0) + dbls(1, 2, 3, 4))
put("bin_mat_rect", BIN_MAT, ints(1211216, 2, 4, 3) + ints(0, 3) + ints(0, 1, 3) + dbls(1, 2, 3))
put("bin_bad_unsorted", BIN_MAT, ints(1211216, 2, 2, 2) + ints(2, 0) + ints(1, 0) + dbls(1, 2))
put("bin_bad_classid", BIN_VEC, ints(1211216, 3, 3, 0) + ints(0, 0, 0))
put("bin_bad_huge", BIN_VEC, ints(1211214, 2147483647) + dbls(1.0))
