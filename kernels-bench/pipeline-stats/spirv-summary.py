#!/usr/bin/env python3
"""What a captured SPIR-V module (the pipeline-statistics layer's <n>_<entry>.spv) does with memory, without SPIRV-Tools:
capabilities and memory model; every load and store (plain and cooperative-matrix) by storage class and memory
operands (matrix ones also by literal or dynamic stride); every barrier's scope and semantics. Given two modules, also the opcodes whose counts differ.
Session 19 read the flash-attention prefill with and without robust buffer access this way (kernels-bench/notes/attn.md).

  python3 kernels-bench/pipeline-stats/spirv-summary.py A.spv [B.spv]
"""
import collections
import struct
import sys

STORAGE = {0: 'UniformConstant', 1: 'Input', 2: 'Uniform', 4: 'Workgroup', 5: 'CrossWorkgroup', 6: 'Private',
           7: 'Function', 9: 'PushConstant', 12: 'StorageBuffer'}
MEMORY_OPERANDS = [(0x1, 'Volatile'), (0x2, 'Aligned'), (0x4, 'Nontemporal'), (0x8, 'MakePointerAvailable'),
                   (0x10, 'MakePointerVisible'), (0x20, 'NonPrivatePointer')]
OP_LOAD, OP_STORE, OP_COOP_LOAD, OP_COOP_STORE = 61, 62, 4457, 4458
# Names of the opcodes a bounds check or a kernel's index arithmetic is made of (the rest print as numbers).
OPCODE_NAMES = {5: 'OpName', 6: 'OpMemberName', 12: 'OpExtInst', 17: 'OpCapability', 23: 'OpTypeVector', 30: 'OpTypeStruct',
                32: 'OpTypePointer', 33: 'OpTypeFunction', 44: 'OpConstantComposite', 46: 'OpConstantNull', 55: 'OpFunctionParameter',
                71: 'OpDecorate', 155: 'OpAll', 43: 'OpConstant', 57: 'OpFunctionCall', 59: 'OpVariable', 61: 'OpLoad',
                62: 'OpStore', 65: 'OpAccessChain', 80: 'OpCompositeConstruct', 81: 'OpCompositeExtract', 128: 'OpIAdd',
                130: 'OpISub', 132: 'OpIMul', 134: 'OpUDiv', 137: 'OpUMod', 149: 'OpIAddCarry', 169: 'OpSelect',
                170: 'OpIEqual', 176: 'OpULessThan', 178: 'OpULessThanEqual', 198: 'OpBitwiseXor', 247: 'OpSelectionMerge',
                248: 'OpLabel', 249: 'OpBranch', 250: 'OpBranchConditional', 349: 'OpGroupNonUniformIAdd',
                4457: 'OpCooperativeMatrixLoadKHR', 4458: 'OpCooperativeMatrixStoreKHR', 4459: 'OpCooperativeMatrixMulAddKHR'}


def instructions(path):
    data = open(path, 'rb').read()
    if len(data) % 4 or len(data) < 20:
        raise SystemExit(f'{path}: not a SPIR-V module (size {len(data)})')
    words = struct.unpack('<%dI' % (len(data) // 4), data)
    if words[0] != 0x07230203:
        raise SystemExit(f'{path}: not a SPIR-V module')
    i, out = 5, []
    while i < len(words):
        op, n = words[i] & 0xffff, words[i] >> 16
        if n == 0 or i + n > len(words):
            raise SystemExit(f'{path}: corrupt instruction at word {i}')
        out.append((op, words[i + 1:i + n]))
        i += n
    return out


def memory_operands(bits):
    return '|'.join(name for bit, name in MEMORY_OPERANDS if bits & bit) or 'none'


def summary(path):
    ins = instructions(path)
    pointer_class, type_of, constant = {}, {}, {}
    for op, a in ins:
        if op == 32: pointer_class[a[0]] = a[1]                   # OpTypePointer
        elif op in (55, 59, 61, 65, 66, 67, 70, 83): type_of[a[1]] = a[0]   # parameters, variables, loads, access chains, copies
        elif op == 43: constant[a[1]] = a[2]                       # OpConstant (32-bit)
    cls = lambda ptr: STORAGE.get(pointer_class.get(type_of.get(ptr)), '?')
    # A literal stride is an OpConstant id; robust buffer access turns it into a select (a dynamic one).
    stride = lambda a, i: 'no stride' if len(a) <= i else 'literal stride' if a[i] in constant else 'dynamic stride'
    semantics = lambda i: hex(constant[i]) if i in constant else 'dynamic'
    rows = collections.Counter()
    for op, a in ins:
        if op == OP_LOAD: rows[('load', cls(a[2]), memory_operands(a[3]) if len(a) > 3 else 'none')] += 1
        elif op == OP_STORE: rows[('store', cls(a[0]), memory_operands(a[2]) if len(a) > 2 else 'none')] += 1
        # cooperative matrix load: type, id, pointer, layout, [stride], [operands]; store: pointer, object, layout, [stride], [operands]
        elif op == OP_COOP_LOAD: rows[('matrix load', cls(a[2]), f"{stride(a, 4)}, {memory_operands(a[5]) if len(a) > 5 else 'none'}")] += 1
        elif op == OP_COOP_STORE: rows[('matrix store', cls(a[0]), f"{stride(a, 3)}, {memory_operands(a[4]) if len(a) > 4 else 'none'}")] += 1
        elif op == 224: rows[('OpControlBarrier exec/mem scope, semantics', f'{constant.get(a[0])}/{constant.get(a[1])}', semantics(a[2]))] += 1
        elif op == 225: rows[('OpMemoryBarrier scope, semantics', str(constant.get(a[0])), semantics(a[1]))] += 1
    print(f'== {path}')
    print('capabilities', [a[0] for op, a in ins if op == 17], 'memory model', [list(a) for op, a in ins if op == 14])
    for (what, where, operands), n in sorted(rows.items()):
        print(f'  {n:5d}  {what:14s} {where:16s} {operands}')
    return collections.Counter(op for op, _ in ins)


counts = [summary(p) for p in sys.argv[1:]]
if len(counts) == 2:
    print('== opcodes whose counts differ (opcode: first, second)')
    for op in sorted(set(counts[0]) | set(counts[1])):
        if counts[0][op] != counts[1][op]:
            print(f'  {OPCODE_NAMES.get(op, op)}: {counts[0][op]}, {counts[1][op]}')
