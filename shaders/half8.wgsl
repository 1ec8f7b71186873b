// Eight halves in a vec4<u32> (a 16-byte load of an f16 tensor), as two vec4f: the decode GEMVs' loads.
// unpack2x16float needs no `enable f16`, so the f32 specialisations of the including files compile too.
// Prepended by the runtime (ProgramDef.includes) to gemv.wgsl and gemv_sg.wgsl.

struct F8 { lo: vec4f, hi: vec4f }

fn unpack8(a: vec4<u32>) -> F8 {
  return F8(vec4f(unpack2x16float(a.x), unpack2x16float(a.y)), vec4f(unpack2x16float(a.z), unpack2x16float(a.w)));
}

fn dot8f(a: F8, b: F8) -> f32 { return dot(a.lo, b.lo) + dot(a.hi, b.hi); }
