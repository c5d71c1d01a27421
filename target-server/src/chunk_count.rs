//! A count drawn per answer (`COUNT[+SPREAD]`): chunks of an agent's answer, output tokens of
//! an LLM's. Apart from [`crate::config`] so that the flags of each API can use it.

/// How many chunks an agent's answer has: `base` plus a uniform whole number in 0..=`spread`.
/// Parsed from `COUNT[+SPREAD]`, e.g. `20+10` (20 to 30 chunks) or `8` (always 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkCount {
    pub base: u32,
    pub spread: u32,
}

impl ChunkCount {
    /// Most chunks one answer may have, so that a typo cannot make one request run for hours.
    pub const MAX: u32 = 100_000;

    /// One draw in `base..=base + spread`.
    pub fn draw(&self, rng: &mut impl rand::Rng) -> u32 {
        self.base + rng.random_range(0..=self.spread)
    }
}

impl std::str::FromStr for ChunkCount {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{text}` is not COUNT[+SPREAD] with COUNT >= 1 and COUNT + SPREAD <= {} (e.g. `20+10`, `8`)",
                ChunkCount::MAX
            )
        };
        let (base, spread) = text.split_once('+').unwrap_or((text, "0"));
        let base: u32 = base.trim().parse().map_err(|_| usage())?;
        let spread: u32 = spread.trim().parse().map_err(|_| usage())?;
        if base == 0 || base.saturating_add(spread) > ChunkCount::MAX {
            return Err(usage());
        }
        Ok(ChunkCount { base, spread })
    }
}
