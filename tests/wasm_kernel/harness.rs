//! The wasm SIMD kernel (src/nn/quant/simd.rs) against plain scalar arithmetic, bit for bit, for Q4_0, Q4_1 and
//! Q8_0 rows of 1 to 48 blocks (the four-block groups and every tail length) and 1 to 7 activation rows; then its
//! time per block (Node, one thread). The crate itself has no Rust test runner for wasm32, and the
//! shipped model has no Q4_0 tensor, so this is where that format's wasm path is checked.
//! Run by scripts/test.sh (rustc --target wasm32-unknown-unknown, then node --test tests/wasm_kernel/run.mjs).
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
