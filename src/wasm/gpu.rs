//! The GPU context for JS: `RawGpu.request()` resolves to a context (or rejects with code `GPU`), and kernels
//! return Promises, since WebGPU results arrive only after the event loop turns.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::{js_error, to_js, JsBattles};
use crate::gpu::rank::GpuRanking;
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

    /// True for a software adapter (SwiftShader, lavapipe): slower than the CPU paths.
    #[wasm_bindgen(getter, js_name = isSoftware)]
    pub fn is_software(&self) -> bool {
        self.inner.is_software()
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

impl JsGpu {
    /// The shared context, for other wasm classes that run on this device.
    pub(crate) fn context(&self) -> Rc<Gpu> {
        self.inner.clone()
    }
}

#[wasm_bindgen(js_class = RawGpu)]
impl JsGpu {
    /// A ranking whose heavy work (style-control fits, bootstrap resampling) runs on this device. The battles are
    /// read now (they may be freed afterwards); `fit()` and `runRounds()` return Promises.
    pub fn ranking(&self, battles: &JsBattles, options: JsValue) -> Result<JsGpuRanking, JsValue> {
        let options = super::options::rank_options(options)?;
        let inner =
            GpuRanking::prepare(Some(self.inner.clone()), &battles.inner, &options).map_err(|e| js_error(&e))?;
        Ok(JsGpuRanking { inner: Rc::new(RefCell::new(inner)) })
    }
}

/// A GPU ranking in progress (long-lived: call `free()` when done). One operation at a time: a call while a Promise
/// is pending rejects with code `BUSY`.
#[wasm_bindgen(js_name = RawGpuRanking)]
pub struct JsGpuRanking {
    inner: Rc<RefCell<GpuRanking>>,
}

fn busy() -> JsValue {
    super::busy("ranking")
}

#[wasm_bindgen(js_class = RawGpuRanking)]
impl JsGpuRanking {
    /// The point fit (style control on the device). Resolves when done.
    // The borrow is held across the await on purpose: every other access uses `try_borrow` and gets `BUSY`.
    #[allow(clippy::await_holding_refcell_ref)]
    pub fn fit(&self) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut ranking = inner.try_borrow_mut().map_err(|_| busy())?;
            ranking.fit().await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Runs up to `k` more bootstrap rounds. Resolves when done.
    #[wasm_bindgen(js_name = runRounds)]
    #[allow(clippy::await_holding_refcell_ref)] // as in `fit`
    pub fn run_rounds(&self, k: u32) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut ranking = inner.try_borrow_mut().map_err(|_| busy())?;
            ranking.run_rounds(k).await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Bootstrap rounds still to run.
    #[wasm_bindgen(getter)]
    pub fn remaining(&self) -> Result<u32, JsValue> {
        Ok(self.inner.try_borrow().map_err(|_| busy())?.ranking().remaining())
    }

    /// Bootstrap rounds done.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> Result<u32, JsValue> {
        Ok(self.inner.try_borrow().map_err(|_| busy())?.ranking().done())
    }

    /// The leaderboard as a plain object.
    pub fn leaderboard(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.try_borrow().map_err(|_| busy())?.ranking().leaderboard())
    }

    /// Rating-scale values in leaderboard order.
    #[wasm_bindgen(js_name = ratingScale)]
    pub fn rating_scale(&self) -> Result<Vec<f64>, JsValue> {
        Ok(self.inner.try_borrow().map_err(|_| busy())?.ranking().rating_scale())
    }

    /// Counts, observed win rates and predicted probabilities, in leaderboard order.
    pub fn matrices(&self) -> Result<JsValue, JsValue> {
        to_js(&self.inner.try_borrow().map_err(|_| busy())?.ranking().matrices())
    }
}
