//! The GPU context for JS: `RawGpu.request()` resolves to a context (or rejects with code `GPU`), and kernels
//! return Promises, since WebGPU results arrive only after the event loop turns.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::js_error;
use crate::gpu::Gpu;

/// A WebGPU device with arbiter's kernels (long-lived: call `free()` when done).
#[wasm_bindgen(js_name = RawGpu)]
pub struct JsGpu {
    inner: Rc<Gpu>,
}

#[wasm_bindgen(js_class = RawGpu)]
impl JsGpu {
    /// Requests an adapter and device. Rejects with code `GPU` when WebGPU is unavailable.
    pub async fn request() -> Result<JsGpu, JsValue> {
        Gpu::new().await.map(|g| JsGpu { inner: Rc::new(g) }).map_err(|e| js_error(&e))
    }

    /// The adapter's name and backend.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.inner.adapter()
    }

    /// Predicted P(i ≻ j), row-major n×n, for rating-scale values.
    pub fn predicted(&self, ratings: Vec<f64>, scale: f64, base: f64) -> js_sys::Promise {
        let gpu = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let out = gpu.predicted(&ratings, scale, base).await.map_err(|e| js_error(&e))?;
            Ok(js_sys::Float32Array::from(out.as_slice()).into())
        })
    }
}
