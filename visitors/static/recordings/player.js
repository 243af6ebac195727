// Plays a finished recording with rrweb-player: play, pause, seek and speed are the player's own controls.
(async () => {
  const target = document.getElementById("player");
  try {
    const response = await fetch(target.dataset.src, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const events = await response.json();
    const width = Math.min(1024, target.clientWidth || 1024);
    // The UMD build sets window.rrwebPlayer to its module: the player class is its default export.
    const Player = window.rrwebPlayer.default || window.rrwebPlayer;
    new Player({ target, props: { events, width, height: Math.round(width * 0.6), autoPlay: false, speedOption: [1, 2, 4, 8] } });
    target.dataset.loaded = "true";
  } catch (error) {
    document.getElementById("player-error").hidden = false;
    console.error(error);
  }
})();
