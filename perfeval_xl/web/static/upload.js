// Drag and drop onto the upload box: the dropped file goes into the form's file input and the
// form is sent as it is without this script (the page works without it too).
(function () {
  var drop = document.getElementById("drop");
  var input = document.getElementById("file");
  var form = document.getElementById("upload");
  if (!drop || !input || !form) return;
  ["dragenter", "dragover"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (ev) {
    drop.addEventListener(ev, function (e) { e.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      form.submit();
    }
  });
  input.addEventListener("change", function () {
    drop.firstChild.textContent = input.files.length ? input.files[0].name + " " : drop.firstChild.textContent;
  });
})();
