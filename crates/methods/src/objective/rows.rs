//! Plain rows of numbers <-> `[B, width]` / `[B, 1]` tensors, one set for every loop: credit
//! works on Rust slices, the loss on tensors, and each crossing pads, truncates and converts
//! the same way (f32 on the device going in, f64 on the host coming out).
use tch::{Device, Kind, Tensor};

/// `[B, width]` f32 from rows of any length: each row cut at `width`, zeros after its end.
pub fn rows_tensor(rows: &[Vec<f64>], width: usize, device: Device) -> Tensor {
    let mut flat = vec![0f32; rows.len() * width];
    for (i, row) in rows.iter().enumerate() {
        for (t, &v) in row.iter().take(width).enumerate() {
            flat[i * width + t] = v as f32;
        }
    }
    Tensor::from_slice(&flat)
        .view([rows.len() as i64, width as i64])
        .to_device(device)
}

/// `[B, 1]` f32, one value per row (per-sample weights, targets and keep flags).
pub fn column(values: &[f64], device: Device) -> Tensor {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_slice(&v).view([-1, 1]).to_device(device)
}

/// Every element of `t` in row-major order, as f64 on the host.
pub fn flat_values(t: &Tensor) -> Vec<f64> {
    // Converting only fails on a tensor that no loop builds (a non-numeric kind): an empty
    // result makes the caller's shape check fail loudly instead of panicking here.
    Vec::try_from(
        t.to_device(Device::Cpu)
            .to_kind(Kind::Double)
            .contiguous()
            .view([-1]),
    )
    .unwrap_or_default()
}

/// Every row of a `[B, W]` tensor, whole.
pub fn tensor_rows(t: &Tensor) -> Vec<Vec<f64>> {
    let width = t.size().last().copied().unwrap_or(0).max(1) as usize;
    flat_values(t).chunks(width).map(<[f64]>::to_vec).collect()
}

/// The first `lens[i]` entries of each row of a `[B, W]` tensor (a response's own tokens).
pub fn token_rows(t: &Tensor, lens: &[usize]) -> Vec<Vec<f64>> {
    let width = t.size().last().copied().unwrap_or(0).max(0) as usize;
    let flat = flat_values(t);
    lens.iter()
        .enumerate()
        .map(|(i, &len)| {
            let start = i * width;
            flat.get(start..start + len.min(width))
                .map(<[f64]>::to_vec)
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_padded_tensor() {
        let rows = vec![vec![1.0, 2.0, 3.0], vec![4.0]];
        let t = rows_tensor(&rows, 2, Device::Cpu);
        assert_eq!(t.size(), vec![2, 2]);
        assert_eq!(tensor_rows(&t), vec![vec![1.0, 2.0], vec![4.0, 0.0]]);
        assert_eq!(token_rows(&t, &[2, 1]), vec![vec![1.0, 2.0], vec![4.0]]);
        assert_eq!(token_rows(&t, &[5, 0]), vec![vec![1.0, 2.0], vec![]]);
        assert_eq!(
            flat_values(&column(&[0.5, 1.0], Device::Cpu)),
            vec![0.5, 1.0]
        );
    }
}
