"""`xinlian private agg ...`: a key by the DKG, contributions, their batch sum, members'
decryption shares and the opening, through JSON files; bad files, values out of range,
tampered or copied contributions, non-member and too few shares exit with status 2 and a
typed error."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from xinlian.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["private", "agg", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(capsys, "keygen", "--members", "4", "--threshold", "3",
                       "--out-dir", str(tmp_path / "keys"))
    assert code == 0 and json.loads(out)["threshold"] == 3
    for i in range(1, 5):
        assert stat.S_IMODE((tmp_path / "keys" / f"member-{i}.json").stat().st_mode) == 0o600
    return tmp_path / "keys"


def contribute(capsys: pytest.CaptureFixture[str], keys: Path, out: Path, value: int,
               bits: int, context: str) -> Path:
    code, _, err = run(capsys, "contribute", "--key", str(keys / "key.json"), "--value",
                       str(value), "--bits", str(bits), "--context", context, "--out", str(out))
    assert code == 0, err
    return out


def test_a_sum_opened_by_three_of_four(keys: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    files = [contribute(capsys, keys, tmp_path / f"c{i}.json", v, 16, f"loans-q4/bank-{i}")
             for i, v in enumerate([1200, 35000, 65535])]
    assert set(json.loads(files[1].read_text())) == {"group", "bits", "context",
                                                     "contribution"}  # no value
    agg = tmp_path / "agg.json"
    code, out, _ = run(capsys, "sum", "--key", str(keys / "key.json"), *map(str, files),
                       "--out", str(agg))
    assert code == 0 and json.loads(out) == {"contributions": 3, "bound": 3 * 65535}
    shares = []
    for i in (4, 2, 1):
        shares.append(tmp_path / f"s{i}.json")
        assert run(capsys, "share", "--key-share", str(keys / f"member-{i}.json"), str(agg),
                   "--out", str(shares[-1]))[0] == 0
    code, out, _ = run(capsys, "open", "--key", str(keys / "key.json"), str(agg),
                       *map(str, shares))
    assert code == 0 and json.loads(out)["value"] == 1200 + 35000 + 65535


def test_bad_input_exits_2(keys: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    key = str(keys / "key.json")
    a = contribute(capsys, keys, tmp_path / "a.json", 1, 0, "poll/a")
    b = contribute(capsys, keys, tmp_path / "b.json", 0, 0, "poll/b")
    doc = json.loads(a.read_text())
    copied = tmp_path / "copied.json"
    copied.write_text(json.dumps({**doc, "context": "poll/c"}))
    flipped = tmp_path / "flipped.json"
    raw = doc["contribution"]
    flipped.write_text(json.dumps({**doc, "contribution": raw[:-2] + (
        "00" if raw[-2:] != "00" else "01")}))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    short = tmp_path / "short.json"
    short.write_text(json.dumps({**doc, "contribution": raw[:40]}))
    agg = tmp_path / "agg.json"
    assert run(capsys, "sum", "--key", key, str(a), str(b), "--out", str(agg))[0] == 0
    s1, s2 = tmp_path / "s1.json", tmp_path / "s2.json"
    for i, s in ((1, s1), (2, s2)):
        assert run(capsys, "share", "--key-share", str(keys / f"member-{i}.json"), str(agg),
                   "--out", str(s))[0] == 0
    stranger = tmp_path / "stranger.json"
    share_doc = json.loads(s1.read_text())
    stranger.write_text(json.dumps({"member": 9, "share": "00000009" + share_doc["share"][8:]}))
    cases = [
        (["contribute", "--key", key, "--value", "2", "--context", "x", "--out",
          str(tmp_path / "x.json")], "8952 homomorphic_bad_statement"),
        (["contribute", "--key", key, "--value", "256", "--bits", "8", "--context", "x",
          "--out", str(tmp_path / "x.json")], "8952 homomorphic_bad_statement"),
        (["sum", "--key", key, str(a), str(copied), "--out", str(agg)],
         "8953 homomorphic_invalid_contribution"),
        (["sum", "--key", key, str(a), str(a), "--out", str(agg)],
         "8953 homomorphic_invalid_contribution"),
        (["sum", "--key", key, str(flipped), "--out", str(agg)], "homomorphic_"),
        (["sum", "--key", key, str(garbage), "--out", str(agg)],
         "8951 homomorphic_malformed_input"),
        (["sum", "--key", key, str(short), "--out", str(agg)],
         "8951 homomorphic_malformed_input"),
        (["sum", "--key", str(garbage), str(a), "--out", str(agg)],
         "8951 homomorphic_malformed_input"),
        (["open", "--key", key, str(agg), str(s1), str(s2)], "8956 homomorphic_too_few_shares"),
        (["open", "--key", key, str(agg), str(s1), str(s2), str(stranger)],
         "8954 homomorphic_not_a_member"),
        (["open", "--key", key, str(agg), str(s1), str(s1), str(s2)],
         "8955 homomorphic_invalid_share"),
        (["share", "--key-share", key, str(agg), "--out", str(tmp_path / "x.json")],
         "8951 homomorphic_malformed_input"),
    ]
    for argv, error in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and error in err, (argv, err)


def test_a_comparison_with_a_threshold(keys: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    key = str(keys / "key.json")
    files = [str(contribute(capsys, keys, tmp_path / f"c{i}.json", v, 8, f"poll/{i}"))
             for i, v in enumerate([200, 100, 50])]
    agg = str(tmp_path / "agg.json")
    assert run(capsys, "sum", "--key", key, *files, "--out", agg)[0] == 0
    asked = ["--at-least", "351", "--context", "total >= 351"]

    def path(name: str) -> str:
        return str(tmp_path / name)

    for i in (1, 2, 3):
        code, _, err = run(capsys, "compare-commit", "--key-share",
                           str(keys / f"member-{i}.json"), agg, *asked,
                           "--out", path(f"m{i}.json"), "--nonces", path(f"n{i}.json"))
        assert code == 0, err
    assert stat.S_IMODE(Path(path("n1.json")).stat().st_mode) == 0o600
    code, out, _ = run(capsys, "compare-challenge", "--key", key, agg, *asked,
                       *(path(f"m{i}.json") for i in (1, 2, 3)),
                       "--out", path("challenge.json"), "--state", path("state.json"))
    assert code == 0 and json.loads(out) == {"members": [1, 2, 3]}
    for i in (1, 2, 3):
        assert run(capsys, "compare-respond", "--key-share", str(keys / f"member-{i}.json"),
                   "--nonces", path(f"n{i}.json"), path("challenge.json"),
                   "--out", path(f"r{i}.json"))[0] == 0
        assert not Path(path(f"n{i}.json")).exists()  # used once
    code, out, _ = run(capsys, "compare-finish", "--key", key, "--state", path("state.json"),
                       *(path(f"r{i}.json") for i in (1, 2, 3)), "--out", path("proof.json"))
    assert code == 0 and json.loads(out) == {"at_least": 351, "claim": False}
    public = json.loads(Path(path("proof.json")).read_text())
    assert set(public) == {"question", "claim", "v", "t1", "t2", "t3", "z_x", "z_m", "z_s",
                           "range"}  # the sum (350) is in none of them
    assert set(public["question"]) == {"aggregate", "bound", "at_least", "context"}
    code, out, _ = run(capsys, "compare-verify", "--key", key, agg, path("proof.json"))
    assert code == 0 and json.loads(out)["claim"] is False

    proof = json.loads(Path(path("proof.json")).read_text())
    Path(path("lie.json")).write_text(json.dumps({**proof, "claim": True}))
    Path(path("moved.json")).write_text(json.dumps(
        {**proof, "question": {**proof["question"], "at_least": 300}}))
    other = str(contribute(capsys, keys, tmp_path / "x.json", 1, 8, "poll/x"))
    assert run(capsys, "sum", "--key", key, other, "--out", path("other.json"))[0] == 0
    cases = [
        (["compare-verify", "--key", key, agg, path("lie.json")],
         "8953 homomorphic_invalid_contribution"),
        (["compare-verify", "--key", key, agg, path("moved.json")],
         "8953 homomorphic_invalid_contribution"),
        (["compare-verify", "--key", key, path("other.json"), path("proof.json")],
         "8952 homomorphic_bad_statement"),
        (["compare-respond", "--key-share", str(keys / "member-1.json"), "--nonces",
          path("n1.json"), path("challenge.json"), "--out", path("again.json")],
         "8951 homomorphic_malformed_input"),  # its nonces are gone
        (["compare-commit", "--key-share", str(keys / "member-1.json"), agg, *asked,
          "--out", path("m9.json"), "--nonces", path("r1.json")],
         "8952 homomorphic_bad_statement"),  # never overwrites a file
        (["compare-challenge", "--key", key, agg, "--at-least", "5", "--context", "x",
          path("m1.json"), path("m2.json"), path("m3.json"), "--out", path("c2.json"),
          "--state", path("s2.json")], "8952 homomorphic_bad_statement"),
        (["compare-challenge", "--key", key, agg, *asked, path("m1.json"), path("m2.json"),
          "--out", path("c2.json"), "--state", path("s2.json")],
         "8956 homomorphic_too_few_shares"),
    ]
    for argv, error in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and error in err, (argv, err)


def test_a_key_by_members_exchanging_files(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Four members, each with only its own secret file, run the DKG over a shared folder
    of messages; they end with one key, which opens a sum."""
    members = (1, 2, 3, 4)
    for i in members:
        code, out, _ = run(capsys, "dkg-join", "--member", str(i),
                           "--secret", str(tmp_path / f"secret-{i}.json"),
                           "--public", str(tmp_path / f"pub-{i}.json"))
        assert code == 0 and json.loads(out)["member"] == i
        assert stat.S_IMODE((tmp_path / f"secret-{i}.json").stat().st_mode) == 0o600
    roster = str(tmp_path / "roster.json")
    assert run(capsys, "dkg-roster", "--threshold", "3", "--session", "loans-key-1",
               *(str(tmp_path / f"pub-{i}.json") for i in members), "--out", roster)[0] == 0
    shared = str(tmp_path / "messages")
    done: dict[int, str] = {}
    for _ in range(4):
        for i in members:
            code, out, err = run(capsys, "dkg-step", "--roster", roster, "--secret",
                                 str(tmp_path / f"secret-{i}.json"), "--messages", shared,
                                 "--out-dir", str(tmp_path / f"keys-{i}"))
            assert code == 0, err
            if json.loads(out).get("done"):
                done[i] = json.loads(out)["aggregate_key"]
    assert set(done) == set(members) and len(set(done.values())) == 1
    keys = tmp_path / "keys-1"
    for i in (2, 3):  # each member's folder holds its own share only
        (keys / f"member-{i}.json").write_text((tmp_path / f"keys-{i}" / f"member-{i}.json")
                                               .read_text())
    assert json.loads((keys / "key.json").read_text()) == json.loads(
        (tmp_path / "keys-4" / "key.json").read_text())
    files = [str(contribute(capsys, keys, tmp_path / f"c{i}.json", v, 0, f"v/{i}"))
             for i, v in enumerate([1, 1, 0])]
    agg = str(tmp_path / "agg.json")
    assert run(capsys, "sum", "--key", str(keys / "key.json"), *files, "--out", agg)[0] == 0
    for i in (1, 2, 3):
        assert run(capsys, "share", "--key-share", str(keys / f"member-{i}.json"), agg,
                   "--out", str(tmp_path / f"s{i}.json"))[0] == 0
    code, out, _ = run(capsys, "open", "--key", str(keys / "key.json"), agg,
                       *(str(tmp_path / f"s{i}.json") for i in (1, 2, 3)))
    assert code == 0 and json.loads(out)["value"] == 2

    (Path(shared) / "round-1-member-9.msg").write_bytes(b"\x00")
    cases = [
        (["dkg-join", "--member", "1", "--secret", str(tmp_path / "secret-1.json"),
          "--public", str(tmp_path / "x.json")], "8952 homomorphic_bad_statement"),
        (["dkg-roster", "--threshold", "5", "--session", "s",
          *(str(tmp_path / f"pub-{i}.json") for i in members), "--out", str(tmp_path / "r")],
         "8952 homomorphic_bad_statement"),
        (["dkg-roster", "--threshold", "2", "--session", "s", str(tmp_path / "pub-1.json"),
          str(tmp_path / "pub-1.json"), "--out", str(tmp_path / "r")],
         "8952 homomorphic_bad_statement"),
        (["dkg-step", "--roster", roster, "--secret", str(tmp_path / "secret-1.json"),
          "--messages", shared, "--out-dir", str(tmp_path / "k")],
         "8951 homomorphic_malformed_input"),
        (["dkg-step", "--roster", str(tmp_path / "pub-1.json"), "--secret",
          str(tmp_path / "secret-1.json"), "--messages", shared, "--out-dir",
          str(tmp_path / "k")], "8951 homomorphic_malformed_input"),
    ]
    for argv, error in cases:
        code, _, err = run(capsys, *argv)
        assert code == 2 and error in err, (argv, err)
