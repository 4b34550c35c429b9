// imurmurhash ships no types: the one call used (partition-hash.ts).
declare module 'imurmurhash' {
  interface MurmurHash3 {
    result(): number;
  }
  function MurmurHash3(key: string, seed?: number): MurmurHash3;
  export default MurmurHash3;
}
