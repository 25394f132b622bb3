"""Board profiles: shipped defaults, user overrides, validation messages, reachability."""

import pytest

from hil.boards import ProfileError, generic_profile, list_profiles, load_profiles


@pytest.fixture(autouse=True)
def no_user_file(monkeypatch, tmp_path):
    # Tests never read the developer's own ~/.config/neurotile/boards.yaml.
    monkeypatch.delenv("NEUROTILE_BOARDS", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def write(tmp_path, text):
    path = tmp_path / "boards.yaml"
    path.write_text(text)
    return str(path)


def test_shipped_profiles_load_with_their_documented_values():
    profiles = load_profiles()
    assert {"qemu-microbit", "wasm", "pico", "esp32"} <= set(profiles)
    microbit = profiles["qemu-microbit"]
    assert microbit.launcher == "qemu-microbit" and microbit.hard_reset == "qmp"
    assert (microbit.pacing.chunk_size, microbit.pacing.chunk_pause) == (32, 0.005)
    assert profiles["pico"].port == "/dev/ttyACM0"
    assert profiles["esp32"].port == "/dev/ttyUSB0" and profiles["esp32"].hard_reset == "dtr"
    assert profiles["wasm"].hard_reset == "worker"
    assert microbit.mode == "split" and profiles["wasm"].mode == "full" and profiles["pico"].mode == "full"
    assert set(microbit.capacity["unsupported"]) == {"noise", "reward"}


def test_user_file_from_environment_overrides_key_by_key(tmp_path, monkeypatch):
    path = write(tmp_path, """
pico:
  port: /dev/ttyACM3
  timeouts: {rpc: 9}
my-esp:
  base: esp32
  port: /dev/ttyUSB7
""")
    monkeypatch.setenv("NEUROTILE_BOARDS", path)
    profiles = load_profiles()
    assert profiles["pico"].port == "/dev/ttyACM3"
    assert profiles["pico"].timeouts.rpc == 9.0
    assert profiles["pico"].timeouts.ack == 1.0  # kept from the shipped profile
    assert profiles["my-esp"].hard_reset == "dtr" and profiles["my-esp"].port == "/dev/ttyUSB7"
    assert profiles["my-esp"].source == path


def test_default_user_file_under_xdg_config(tmp_path):
    folder = tmp_path / "config" / "neurotile"
    folder.mkdir(parents=True)
    (folder / "boards.yaml").write_text("wasm:\n  upload_chunk: 99\n")
    assert load_profiles()["wasm"].upload_chunk == 99


@pytest.mark.parametrize("text, message", [
    ("x:\n  port: /dev/a\n  speed: 3\n", "unknown key(s) speed"),
    ("x:\n  baud: 9600\n", "exactly one of 'port'"),
    ("x:\n  port: /dev/a\n  launcher: wasm\n", "exactly one of 'port'"),
    ("x:\n  launcher: arduino\n", "launcher 'arduino' unknown"),
    ("x:\n  port: /dev/a\n  hard_reset: qmp\n", "needs a virtual board"),
    ("x:\n  launcher: wasm\n  hard_reset: qmp\n", "cannot do hard_reset 'qmp'"),
    ("x:\n  port: /dev/a\n  timeouts: {rpc: -1}\n", "timeouts.rpc must be >="),
    ("x:\n  port: /dev/a\n  timeouts: {rcp: 1}\n", "timeouts keys are"),
    ("x:\n  port: /dev/a\n  pacing: {chunk: 1.5}\n", "pacing.chunk must be an integer"),
    ("x:\n  port: /dev/a\n  capacity: {max_tile: 16}\n", "max_tile must be [axons, neurons]"),
    ("x:\n  base: nothing\n  port: /dev/a\n", "base 'nothing' is not a known profile"),
    ("x:\n  port: /dev/a\n  mode: half\n", "mode must be full or split"),
    ("x:\n  port: /dev/a\n  capacity: {unsupported: {fpu: no}}\n", "capacity.unsupported must map features"),
    ("x:\n  port: /dev/a\n  capacity: {unsupported: [noise]}\n", "capacity.unsupported must map features"),
    ("- just\n- a list\n", "expected a mapping"),
    ("x: [unclosed\n", "not valid YAML"),
])
def test_invalid_profiles_name_file_profile_and_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profiles(user=path)
    assert message in str(info.value)
    assert path in str(info.value)


def test_missing_explicit_user_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROTILE_BOARDS", str(tmp_path / "nope.yaml"))
    with pytest.raises(ProfileError, match="cannot read"):
        load_profiles()


def test_listing_says_which_boards_are_reachable(tmp_path):
    port = tmp_path / "ttyFAKE"
    port.write_text("")
    path = write(tmp_path, "here:\n  port: %s\ngone:\n  port: /dev/ttyNOPE9\n" % port)
    status = {s.name: s for s in list_profiles(load_profiles(user=path))}
    assert status["here"].reachable and status["here"].kind == "serial"
    assert not status["gone"].reachable and "not present" in status["gone"].detail
    assert status["wasm"].kind == "virtual"
    # On CI the install script provides both virtual boards.
    assert status["wasm"].reachable, status["wasm"].detail
    assert status["qemu-microbit"].reachable, status["qemu-microbit"].detail


def test_generic_profile_for_a_bare_port_is_cautious():
    profile = generic_profile("/dev/ttyS9")
    assert profile.port == "/dev/ttyS9" and profile.pacing.chunk_size == 32
    assert profile.hard_reset == "none"
