//! CRC-64/XZ (ECMA-182, reflected), the checksum OSS returns for every
//! upload in `x-oss-hash-crc64ecma`, computed while the data streams out.
//! Pure; holds the running state only.

/// The reflected ECMA-182 polynomial.
const POLY: u64 = 0xC96C_5795_D787_0F42;

/// The byte table, made at compile time.
const TABLE: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// A running CRC-64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc64 {
    state: u64,
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

impl Crc64 {
    /// The CRC of nothing so far.
    pub fn new() -> Crc64 {
        Crc64 { state: !0 }
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        let mut s = self.state;
        for &b in data {
            s = TABLE[((s ^ b as u64) & 0xFF) as usize] ^ (s >> 8);
        }
        self.state = s;
    }

    /// The CRC of everything added.
    pub fn finish(&self) -> u64 {
        !self.state
    }
}
