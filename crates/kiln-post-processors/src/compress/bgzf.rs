//! A BGZF writer (blocked gzip, as used by samtools and by Packer's `.bgzf`
//! outputs): a series of independent gzip members of at most 64 KiB, each
//! carrying its size in a `BC` extra field, closed by the standard empty
//! end-of-file block. Any gzip reader can decompress the result.

use std::io::{self, Write};

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

/// The most uncompressed bytes per block (biogo's `BlockSize`).
const BLOCK_INPUT: usize = 0xff00;
/// The most bytes a whole block may take.
const MAX_BLOCK: usize = 0x10000;
/// Header (18) and trailer (8) bytes around each block's deflate data.
const OVERHEAD: usize = 26;
/// The empty block that ends every BGZF file.
const EOF_BLOCK: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// Compresses everything written to it into BGZF blocks on `inner`.
pub(crate) struct BgzfWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    level: Compression,
}

impl<W: Write> BgzfWriter<W> {
    /// A writer compressing at `level` (0–9).
    pub(crate) fn new(inner: W, level: u32) -> Self {
        BgzfWriter {
            inner,
            buf: Vec::with_capacity(BLOCK_INPUT),
            level: Compression::new(level),
        }
    }

    fn write_block(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut data = deflate(&self.buf, self.level)?;
        if data.len() + OVERHEAD > MAX_BLOCK {
            // Incompressible input: stored blocks always fit.
            data = deflate(&self.buf, Compression::none())?;
        }
        let bsize = (data.len() + OVERHEAD - 1) as u16;
        let mut crc = Crc::new();
        crc.update(&self.buf);
        let mut header = [
            0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43,
            0x02, 0x00, 0x00, 0x00,
        ];
        header[16..18].copy_from_slice(&bsize.to_le_bytes());
        self.inner.write_all(&header)?;
        self.inner.write_all(&data)?;
        self.inner.write_all(&crc.sum().to_le_bytes())?;
        self.inner
            .write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.buf.clear();
        Ok(())
    }

    /// Writes the last block and the end-of-file marker.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.write_block()?;
        self.inner.write_all(&EOF_BLOCK)?;
        Ok(self.inner)
    }
}

fn deflate(data: &[u8], level: Compression) -> io::Result<Vec<u8>> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(data.len() / 2), level);
    enc.write_all(data)?;
    enc.finish()
}

impl<W: Write> Write for BgzfWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK_INPUT - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == BLOCK_INPUT {
            self.write_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn blocks_decompress_as_multi_member_gzip() {
        let mut data = Vec::new();
        // Compressible and incompressible parts, several blocks.
        data.extend(std::iter::repeat_n(b'a', 100_000));
        let mut x: u32 = 12345;
        for _ in 0..150_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push((x >> 16) as u8);
        }
        let mut w = BgzfWriter::new(Vec::new(), 6);
        w.write_all(&data).unwrap();
        let out = w.finish().unwrap();
        assert!(out.ends_with(&EOF_BLOCK));
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        // Walk the blocks by their BSIZE fields.
        let mut pos = 0;
        let mut blocks = 0;
        while pos < out.len() {
            assert_eq!(&out[pos..pos + 4], &[0x1f, 0x8b, 0x08, 0x04]);
            assert_eq!(&out[pos + 12..pos + 14], b"BC");
            let bsize = u16::from_le_bytes([out[pos + 16], out[pos + 17]]) as usize;
            pos += bsize + 1;
            blocks += 1;
        }
        assert_eq!(pos, out.len());
        assert!(blocks >= 5, "{blocks}");
    }

    #[test]
    fn matches_packers_small_file() {
        // Packer 1.6.6 wrote a 37-byte block for "hello" followed by the EOF
        // block (65 bytes); the deflate data may differ, the framing not.
        let mut w = BgzfWriter::new(Vec::new(), 6);
        w.write_all(b"hello").unwrap();
        let out = w.finish().unwrap();
        assert_eq!(&out[..16], &EOF_BLOCK[..16]);
        let bsize = u16::from_le_bytes([out[16], out[17]]) as usize;
        assert_eq!(out.len(), bsize + 1 + EOF_BLOCK.len());
    }
}
