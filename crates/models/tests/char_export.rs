//! The character vocabulary exported as Hugging Face tokenizer files must tokenize exactly as
//! the built-in tokenizer: a model exported with it then reads the same ids in both paths.
use polopt_models::char_export::write_tokenizer_files;
use polopt_models::{CharTokenizer, HfTokenizer};

fn exported() -> (CharTokenizer, HfTokenizer, tempfile::TempDir) {
    let tok = CharTokenizer::new();
    let dir = tempfile::tempdir().expect("temp dir");
    write_tokenizer_files(&tok, dir.path()).expect("write tokenizer files");
    let hf = HfTokenizer::from_dir(dir.path()).expect("load exported tokenizer");
    (tok, hf, dir)
}

#[test]
fn exported_tokenizer_encodes_prompts_as_bos_plus_characters() {
    let (tok, hf, _dir) = exported();
    assert_eq!(hf.vocab_size(), tok.vocab_size());
    let all: String = (3..tok.vocab_size() as i64)
        .filter_map(|id| tok.token(id))
        .collect();
    for text in [
        "12+345=",
        "987+6=\n",
        "  a b\n\nc ",
        "s:579 c:0010",
        "(1+2)*3/4-5%6<7>[8],.:?",
        all.as_str(),
    ] {
        let mut want = vec![tok.bos_id()];
        want.extend(tok.encode(text).expect("charset text"));
        assert_eq!(hf.encode(text, true).expect("encode"), want, "{text:?}");
        assert_eq!(
            hf.encode(text, false).expect("encode"),
            want[1..],
            "{text:?}"
        );
    }
}

#[test]
fn exported_tokenizer_decodes_like_the_builtin_one_without_specials() {
    let (tok, hf, _dir) = exported();
    let mut ids = vec![tok.bos_id()];
    ids.extend(tok.encode("579\nc:0 579").expect("charset text"));
    ids.push(tok.eos_id());
    ids.push(tok.pad_id());
    assert_eq!(hf.decode(&ids, true).expect("decode"), tok.decode(&ids));
    assert_eq!(hf.decode(&ids, true).expect("decode"), "579\nc:0 579");
    assert_eq!(hf.bos_token(), Some("<bos>"));
    assert_eq!(hf.eos_token(), Some("<eos>"));
    assert_eq!(hf.pad_token(), Some("<pad>"));
}
