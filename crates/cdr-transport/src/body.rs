//! Reading answer bodies within limits: a server decides how much it sends,
//! so every body is read up to a bound and no further, and memory never
//! grows past that bound.

use bytes::Bytes;

use crate::error::TransportError;

/// Reads the body of a successful answer, up to `limit` bytes. A
/// `Content-Length` above the limit is refused before anything is read; a
/// body that grows past it is given up as soon as it does, with
/// [`TransportError::TooLarge`]. The buffer is sized from `Content-Length`
/// when there is one, and never grows past `limit`.
pub(crate) async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    endpoint: &str,
) -> Result<Bytes, TransportError> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(TransportError::TooLarge {
            endpoint: endpoint.to_string(),
            limit,
            announced,
            received: 0,
        });
    }
    let mut buf = Vec::with_capacity(usize::try_from(announced.unwrap_or(0)).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| TransportError::network(endpoint, e))?
    {
        let len = buf.len() as u64 + chunk.len() as u64;
        if len > limit {
            return Err(TransportError::TooLarge {
                endpoint: endpoint.to_string(),
                limit,
                announced: None,
                received: len,
            });
        }
        grow_within(&mut buf, chunk.len(), limit);
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Makes room for `more` bytes, never past `limit` (which the caller
/// checked the new length against). Capacities are the limit halved a whole
/// number of times, so each growth at least doubles and the last one goes
/// from half the limit to the limit: while the bytes move, the old and the
/// new buffer together hold at most 1.5 times the limit.
fn grow_within(buf: &mut Vec<u8>, more: usize, limit: u64) {
    const SMALLEST: usize = 8 * 1024;
    let needed = buf.len() + more;
    if needed <= buf.capacity() {
        return;
    }
    let mut target = usize::try_from(limit).unwrap_or(usize::MAX);
    while target / 2 >= needed && target / 2 >= SMALLEST {
        target /= 2;
    }
    buf.reserve_exact(target.max(needed) - buf.len());
}

/// Reads at most `cap` bytes of an error answer's body, for its message,
/// and leaves the rest unread. A body that fails to arrive gives what came.
pub(crate) async fn read_capped(mut response: reqwest::Response, cap: u64) -> Bytes {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut buf = Vec::new();
    while buf.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(cap - buf.len());
                buf.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    Bytes::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_grow_by_doubling_up_to_the_limit() {
        for limit in [1000u64, 64 * 1024, 3 << 20, (8 << 20) - 1, 64 << 20] {
            for chunk in [7usize, 4096, 65_536, 400_000] {
                let mut buf: Vec<u8> = Vec::new();
                let (mut moving, mut grown) = (0usize, 0);
                while (buf.len() + chunk) as u64 <= limit {
                    let before = buf.capacity();
                    grow_within(&mut buf, chunk, limit);
                    if buf.capacity() != before {
                        grown += 1;
                        moving = moving.max(before + buf.capacity());
                    }
                    buf.extend_from_slice(&vec![0; chunk]);
                }
                let at = format!("limit {limit}, chunks of {chunk}");
                assert!(buf.capacity() as u64 <= limit, "{at}: {}", buf.capacity());
                // Both buffers of a growth together: at most 1.5 times the limit.
                assert!(moving as u64 * 2 <= limit * 3, "{at}: {moving}");
                // Doubling: few growths, not one per chunk.
                assert!(grown <= 16, "{at}: {grown}");
            }
        }
    }
}
