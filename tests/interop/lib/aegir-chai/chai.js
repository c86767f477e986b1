// `aegir/chai` for @libp2p/interop, without aegir. The interop suites import only `expect` from
// their peer dependency aegir (js-libp2p's build/test tool); installing aegir itself pulls in
// hundreds of packages, some of which fail to install, so tests/interop/.npmrc sets
// legacy-peer-deps and package.json maps "aegir" to this directory (file:lib/aegir-chai).
// Same chai set-up as aegir 47 (utils/chai.js), minus chai-subset and chai-string, which the
// suites do not use: chai-as-promised (`.eventually`), chai-parentheses (`.ok()`, `.exist()`),
// chai-bites (`.equalBytes`). Versions as aegir 47 pins them (chai 4, chai-as-promised 7).
import chai from 'chai'
import chaiAsPromised from 'chai-as-promised'
import chaiBites from 'chai-bites'
import chaiParentheses from 'chai-parentheses'

// Do not reorder (as in aegir): https://github.com/chaijs/chai/issues/1298
chai.use(chaiAsPromised)
chai.use(chaiParentheses)
chai.use(chaiBites)

export const expect = chai.expect
export const assert = chai.assert
export { chai }
