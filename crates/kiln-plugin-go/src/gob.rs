//! The one `encoding/gob` message on the plugin hot path: the
//! `CommandFinished{ExitStatus int}` a communicator writes to a command's
//! response stream when it exits. Encoding is a constant type message plus
//! one zig-zag varint; decoding skips type messages and reads field 1 of
//! the value. Stores nothing.

/// gob's unsigned varint: one byte below 128, else minus the byte count
/// followed by big-endian bytes.
fn put_uint(u: u64, out: &mut Vec<u8>) {
    if u < 128 {
        out.push(u as u8);
    } else {
        let b = u.to_be_bytes();
        let skip = b.iter().take_while(|x| **x == 0).count();
        out.push((256 - (8 - skip)) as u8);
        out.extend_from_slice(&b[skip..]);
    }
}

fn put_int(i: i64, out: &mut Vec<u8>) {
    let u = if i >= 0 {
        (i as u64) << 1
    } else {
        ((!i as u64) << 1) | 1
    };
    put_uint(u, out);
}

fn put_str(s: &str, out: &mut Vec<u8>) {
    put_uint(s.len() as u64, out);
    out.extend_from_slice(s.as_bytes());
}

/// The gob stream Go's `gob.NewEncoder(w).Encode(CommandFinished{status})`
/// writes.
pub fn command_finished(status: i64) -> Vec<u8> {
    let mut typedef = Vec::new();
    put_int(-65, &mut typedef); // defining type id 65
    typedef.push(0x03); // wireType field 3: StructT
    typedef.push(0x01); // structType field 1: CommonType
    typedef.push(0x01); // CommonType field 1: Name
    put_str("CommandFinished", &mut typedef);
    typedef.push(0x01); // field 2: Id
    put_int(65, &mut typedef);
    typedef.push(0x00); // end CommonType
    typedef.push(0x01); // structType field 2: Field
    put_uint(1, &mut typedef); // one field
    typedef.push(0x01); // fieldType.Name
    put_str("ExitStatus", &mut typedef);
    typedef.push(0x01); // fieldType.Id
    put_int(2, &mut typedef); // int
    typedef.extend_from_slice(&[0x00, 0x00, 0x00]);
    let mut value = Vec::new();
    put_int(65, &mut value);
    if status != 0 {
        value.push(0x01);
        put_int(status, &mut value);
    }
    value.push(0x00);
    let mut out = Vec::new();
    put_uint(typedef.len() as u64, &mut out);
    out.extend_from_slice(&typedef);
    put_uint(value.len() as u64, &mut out);
    out.extend_from_slice(&value);
    out
}

fn get_uint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *b.get(*pos)?;
    *pos += 1;
    if first < 128 {
        return Some(first as u64);
    }
    let n = 256 - first as usize;
    if n > 8 || *pos + n > b.len() {
        return None;
    }
    let v = b[*pos..*pos + n]
        .iter()
        .fold(0u64, |a, x| (a << 8) | *x as u64);
    *pos += n;
    Some(v)
}

fn get_int(b: &[u8], pos: &mut usize) -> Option<i64> {
    let u = get_uint(b, pos)?;
    Some(if u & 1 == 1 {
        !((u >> 1) as i64)
    } else {
        (u >> 1) as i64
    })
}

/// Reads the exit status from a complete `CommandFinished` gob stream.
pub fn parse_command_finished(b: &[u8]) -> Option<i64> {
    let mut pos = 0;
    while pos < b.len() {
        let len = get_uint(b, &mut pos)? as usize;
        let end = pos.checked_add(len).filter(|e| *e <= b.len())?;
        let msg = &b[pos..end];
        pos = end;
        let mut p = 0;
        let id = get_int(msg, &mut p)?;
        if id < 0 {
            continue; // a type definition
        }
        // A struct value: (field delta, value)*, then 0. ExitStatus is field 1.
        let mut field = 0u64;
        let mut status = 0;
        loop {
            let delta = get_uint(msg, &mut p)?;
            if delta == 0 {
                return Some(status);
            }
            field += delta;
            let v = get_int(msg, &mut p)?;
            if field == 1 {
                status = v;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_bytes_verified_against_go() {
        let zero = command_finished(0);
        assert_eq!(zero.len(), 45 + 4);
        assert_eq!(&zero[..3], &[0x2c, 0xff, 0x81]);
        assert_eq!(&zero[45..], &[0x03, 0xff, 0x82, 0x00]);
        let three = command_finished(3);
        assert_eq!(&three[45..], &[0x05, 0xff, 0x82, 0x01, 0x06, 0x00]);
    }

    #[test]
    fn parses_what_it_writes() {
        for s in [0, 1, 3, 127, 255, -1, 2_300_218] {
            assert_eq!(parse_command_finished(&command_finished(s)), Some(s));
        }
        assert_eq!(parse_command_finished(&[]), None);
        assert_eq!(parse_command_finished(&[0x05, 0xff]), None);
    }
}
