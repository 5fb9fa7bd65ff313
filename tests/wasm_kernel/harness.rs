//! The wasm SIMD kernels against plain scalar arithmetic, bit for bit, and their times (Node, one thread):
//! - the mat-vec (src/nn/quant/simd.rs) for Q4_0, Q4_1 and Q8_0 rows of 1 to 48 blocks (the four-block groups and
//!   every tail length), 7 and 19 weight rows (decode's eight streams and its tail) and 1 to 70 activation rows
//!   (chunks of 32, rows padded to fours);
//! - the attention row (src/nn/ggml/simd.rs, in attn.rs) at odd head sizes and key counts, on extreme values.
//!
//! The crate itself has no Rust test runner for wasm32, and the shipped model has no Q4_0 tensor, so this is where
//! that format's wasm path is checked. `alloc`/`mm` run the mat-vec on a model's own weights for
//! benches/llama-kernel.mjs. Run by scripts/test.sh (rustc --target wasm32-unknown-unknown, then
//! node --test tests/wasm_kernel/run.mjs).
mod kern;
static mut CASES: Vec<kern::Case> = Vec::new();
#[no_mangle]
pub extern "C" fn setup(t: u32) {
    unsafe {
        (*std::ptr::addr_of_mut!(CASES)).push(kern::case(kern::GgmlType::Q4_1, 1536, 576, t as usize));
    }
}
#[no_mangle]
pub extern "C" fn go(i: u32, k: u32) -> f32 {
    unsafe {
        let v = &mut *std::ptr::addr_of_mut!(CASES);
        kern::run(&mut v[i as usize], k == 1)
    }
}
#[no_mangle]
pub extern "C" fn check(kind: u32, rows: u32, cols: u32, t: u32) -> u32 {
    kern::check(kind, rows as usize, cols as usize, t as usize)
}
static mut WEIGHTS: Vec<u8> = Vec::new();
static mut OUT: Vec<f32> = Vec::new();
/// Room for `n` bytes of weights (a whole GGUF file), to be filled from JS.
#[no_mangle]
pub extern "C" fn alloc(n: u32) -> *mut u8 {
    unsafe {
        let w = &mut *std::ptr::addr_of_mut!(WEIGHTS);
        *w = vec![0; n as usize];
        w.as_mut_ptr()
    }
}
/// The kernel on `rows` rows of `cols` at `off` in the weights (kind 0 Q4_0, 1 Q4_1, 2 Q8_0) against `t` random
/// activation rows; returns the first output.
#[no_mangle]
pub extern "C" fn mm(kind: u32, off: u32, rows: u32, cols: u32, t: u32) -> f32 {
    let kind = [kern::GgmlType::Q4_0, kern::GgmlType::Q4_1, kern::GgmlType::Q8_0][kind as usize];
    let len = rows as usize * cols as usize / kern::QK * kind.block_bytes();
    let mut seed = u64::from(cols);
    let mut rnd = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    };
    let acts = kern::activations(&mut rnd, cols as usize, t as usize);
    unsafe {
        let w = &*std::ptr::addr_of!(WEIGHTS);
        let out = &mut *std::ptr::addr_of_mut!(OUT);
        out.resize(rows as usize * t as usize, 0.0);
        kern::matmul(kind, &w[off as usize..][..len], &acts, out);
        out[0]
    }
}
mod attn;
/// Differing outputs of the SIMD attention row against the scalar one (see attn.rs).
#[no_mangle]
pub extern "C" fn check_attention(d: u32, visible: u32, pad: u32, regime: u32, seed: u32) -> u32 {
    attn::check(d as usize, visible as usize, pad as usize, regime, seed)
}
/// Differing f16 roundings on every `step`th f32.
#[no_mangle]
pub extern "C" fn check_rounding(step: u32) -> u32 {
    attn::check_rounding(step)
}
static mut ATTENTION: Vec<attn::Case> = Vec::new();
/// `reps` attention rows of `d` over `visible` keys, moderate values; the SIMD kernel (`simd_on`) or scalar.
#[no_mangle]
pub extern "C" fn time_attention(d: u32, visible: u32, reps: u32, simd_on: u32) -> f32 {
    unsafe {
        let cases = &mut *std::ptr::addr_of_mut!(ATTENTION);
        if cases.is_empty() {
            cases.push(attn::case(d as usize, visible as usize, 128, 0, 1));
        }
        (0..reps).map(|_| attn::run(&cases[0], simd_on == 1)[0]).sum()
    }
}
