//! A tanh MLP with a hand-written batched forward and backward.
//!
//! Why by hand: the control networks are 64 wide. One minibatch step through libtorch is
//! about 300 small ops, each costing microseconds of dispatch, allocation and autograd
//! bookkeeping for a few thousand multiply-adds; the arithmetic of the whole step is tens of
//! microseconds. Plain loops over contiguous rows (which the compiler vectorises) remove the
//! overhead entirely.
//!
//! Parameters are one flat vector in libtorch's layout (per layer the weight `[out, in]`
//! row-major, then the bias), the layout of `mlp::Mlp`, so weights and Adam moments move
//! between the two backends and checkpoints by a plain copy. Generic over f32 (training) and
//! f64 (finite-difference tests).
use super::real::Real;

#[derive(Debug, Clone, Copy)]
struct Layer {
    inputs: usize,
    outputs: usize,
    /// Start of the weight in the flat parameters; the bias follows it.
    offset: usize,
}

#[derive(Debug, Clone)]
pub struct NativeMlp<T> {
    pub params: Vec<T>,
    layers: Vec<Layer>,
    /// Each weight transposed (`[in, out]`), refreshed by [`NativeMlp::sync`]: the forward
    /// then runs as row updates `y += x_i W^T[i, :]`, which vectorise without reassociating
    /// a sum.
    transposed: Vec<T>,
}

/// Activations of one forward: `acts[0]` the input, `acts[l + 1]` layer `l`'s output
/// (after tanh on hidden layers), each `[batch, width]`.
#[derive(Debug, Default, Clone)]
pub struct Tape<T> {
    pub batch: usize,
    pub acts: Vec<Vec<T>>,
    delta: Vec<T>,
    delta_prev: Vec<T>,
    scratch: Vec<T>,
}

impl<T> Tape<T> {
    /// The network's output, `[batch, out]`.
    pub fn output(&self) -> &[T] {
        self.acts.last().map_or(&[], |v| v.as_slice())
    }
}

impl<T: Real> NativeMlp<T> {
    /// A network of widths `dims` (input first) from flat parameters in libtorch's layout.
    pub fn from_flat(dims: &[usize], params: Vec<T>) -> Result<Self, String> {
        let mut layers = Vec::new();
        let mut offset = 0;
        for w in dims.windows(2) {
            layers.push(Layer {
                inputs: w[0],
                outputs: w[1],
                offset,
            });
            offset += w[0] * w[1] + w[1];
        }
        if layers.is_empty() || offset != params.len() {
            return Err(format!(
                "an MLP of widths {dims:?} has {offset} parameters, got {}",
                params.len()
            ));
        }
        let mut net = Self {
            transposed: vec![T::ZERO; params.len()],
            params,
            layers,
        };
        net.sync();
        Ok(net)
    }

    /// Widths, input first.
    pub fn dims(&self) -> Vec<usize> {
        let mut d: Vec<usize> = self.layers.iter().map(|l| l.inputs).collect();
        d.push(self.output_dim());
        d
    }

    pub fn output_dim(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Call after changing `params`.
    pub fn sync(&mut self) {
        for l in &self.layers {
            let w = &self.params[l.offset..l.offset + l.inputs * l.outputs];
            let t = &mut self.transposed[l.offset..l.offset + l.inputs * l.outputs];
            for o in 0..l.outputs {
                for i in 0..l.inputs {
                    t[i * l.outputs + o] = w[o * l.inputs + i];
                }
            }
        }
    }

    /// Forward of `x: [batch, in]`, keeping the activations for [`NativeMlp::backward`].
    pub fn forward(&self, x: &[T], batch: usize, tape: &mut Tape<T>) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked on the line above.
            return unsafe { self.forward_avx2(x, batch, tape) };
        }
        self.forward_impl(x, batch, tape)
    }

    /// The same code compiled for 8-wide vectors (the build targets baseline x86-64).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn forward_avx2(&self, x: &[T], batch: usize, tape: &mut Tape<T>) {
        self.forward_impl(x, batch, tape)
    }

    #[inline(always)]
    fn forward_impl(&self, x: &[T], batch: usize, tape: &mut Tape<T>) {
        tape.batch = batch;
        tape.acts.resize_with(self.layers.len() + 1, Vec::new);
        tape.acts[0].clear();
        tape.acts[0].extend_from_slice(&x[..batch * self.layers[0].inputs]);
        let last = self.layers.len() - 1;
        for (k, l) in self.layers.iter().enumerate() {
            let (done, rest) = tape.acts.split_at_mut(k + 1);
            let (input, out) = (&done[k], &mut rest[0]);
            out.clear();
            out.resize(batch * l.outputs, T::ZERO);
            let bias = &self.params[l.offset + l.inputs * l.outputs..][..l.outputs];
            if l.outputs >= 8 {
                let wt = &self.transposed[l.offset..l.offset + l.inputs * l.outputs];
                for (y, xr) in out
                    .chunks_exact_mut(l.outputs)
                    .zip(input.chunks_exact(l.inputs))
                {
                    y.copy_from_slice(bias);
                    combine(y, l.inputs, |i| xr[i], wt, l.outputs);
                }
            } else {
                let w = &self.params[l.offset..l.offset + l.inputs * l.outputs];
                for (y, xr) in out
                    .chunks_exact_mut(l.outputs)
                    .zip(input.chunks_exact(l.inputs))
                {
                    for ((yo, wr), &b) in y.iter_mut().zip(w.chunks_exact(l.inputs)).zip(bias) {
                        *yo = dot(xr, wr) + b;
                    }
                }
            }
            if k < last {
                for v in out.iter_mut() {
                    *v = v.tanh_fast();
                }
            }
        }
    }

    /// Adds `d loss / d params` to `grad` given `d_out = d loss / d output` (`[batch, out]`)
    /// of the forward recorded in `tape`.
    pub fn backward(&self, tape: &mut Tape<T>, d_out: &[T], grad: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked on the line above.
            return unsafe { self.backward_avx2(tape, d_out, grad) };
        }
        self.backward_impl(tape, d_out, grad)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn backward_avx2(&self, tape: &mut Tape<T>, d_out: &[T], grad: &mut [T]) {
        self.backward_impl(tape, d_out, grad)
    }

    #[inline(always)]
    fn backward_impl(&self, tape: &mut Tape<T>, d_out: &[T], grad: &mut [T]) {
        let batch = tape.batch;
        let Tape {
            acts,
            delta,
            delta_prev,
            scratch,
            ..
        } = tape;
        delta.clear();
        delta.extend_from_slice(&d_out[..batch * self.output_dim()]);
        for (k, l) in self.layers.iter().enumerate().rev() {
            let (ins, outs) = (l.inputs, l.outputs);
            let input = &acts[k];
            let (gw, gb) = grad[l.offset..l.offset + ins * outs + outs].split_at_mut(ins * outs);
            combine(gb, batch, |_| T::ONE, delta, outs);
            if ins >= outs {
                // dW[o, :] += sum_b d[b, o] x[b, :]: rows as long as the input.
                for (o, gr) in gw.chunks_exact_mut(ins).enumerate() {
                    combine(gr, batch, |b| delta[b * outs + o], input, ins);
                }
            } else {
                // dW^T[i, :] += sum_b x[b, i] d[b, :], transposed into place afterwards.
                scratch.clear();
                scratch.resize(ins * outs, T::ZERO);
                for (i, sr) in scratch.chunks_exact_mut(outs).enumerate() {
                    combine(sr, batch, |b| input[b * ins + i], delta, outs);
                }
                for i in 0..ins {
                    for o in 0..outs {
                        gw[o * ins + i] += scratch[i * outs + o];
                    }
                }
            }
            if k == 0 {
                break;
            }
            // d input = d W, then through the previous layer's tanh: (1 - h^2).
            let w = &self.params[l.offset..l.offset + ins * outs];
            delta_prev.clear();
            delta_prev.resize(batch * ins, T::ZERO);
            for (b, dp) in delta_prev.chunks_exact_mut(ins).enumerate() {
                combine(dp, outs, |o| delta[b * outs + o], w, ins);
            }
            for (dp, &h) in delta_prev.iter_mut().zip(input.iter()) {
                *dp *= T::ONE - h * h;
            }
            std::mem::swap(delta, delta_prev);
        }
    }
}

/// `out[c] += sum_j coef(j) rows[j * stride + c]`, summed in `j` order for every `c`; 32
/// outputs at a time are held in a fixed-size array the compiler keeps in vector registers.
#[inline(always)]
fn combine<T: Real>(
    out: &mut [T],
    terms: usize,
    coef: impl Fn(usize) -> T,
    rows: &[T],
    stride: usize,
) {
    const W: usize = 32;
    let width = out.len();
    let mut c = 0;
    while c + W <= width {
        let mut acc = [T::ZERO; W];
        acc.copy_from_slice(&out[c..c + W]);
        for j in 0..terms {
            let a = coef(j);
            let row = &rows[j * stride + c..j * stride + c + W];
            for q in 0..W {
                acc[q] += a * row[q];
            }
        }
        out[c..c + W].copy_from_slice(&acc);
        c += W;
    }
    if c < width {
        let tail = &mut out[c..];
        for j in 0..terms {
            let a = coef(j);
            let row = &rows[j * stride + c..j * stride + width];
            for (y, &r) in tail.iter_mut().zip(row) {
                *y += a * r;
            }
        }
    }
}

/// Eight partial sums in a fixed order: vectorisable, and the same result on every machine.
#[inline(always)]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = T::ZERO;
    for (&x, &y) in ar.iter().zip(br) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}
